"""Every registered divergence measure: ~0 for identical clouds, growing with a displacement; the paper's
estimator is geomloss exactly; floors are computed with each measure."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graph.measures import GRANT2025_SINKHORN, all_measures, get

DIVERGENCES = [m.id for m in all_measures() if m.metric == "EMD"]


def clustered(n: int, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """n points around the synthetic task's class centres (x + 0.2·y, y − 2); ``labels`` (n,) in 0..7 fixes
    each row's class, else classes are drawn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 8, n) if labels is None else labels
    x, y = np.where(labels < 4, -1, 1), np.array([0, 2, 3, 4])[labels % 4]
    return np.stack([x + 0.2 * y, y - 2.0], 1) + rng.normal(0, 0.1, (n, 2))


def class_matched_pair(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent draws with the same class in every row (what a perfect intervention matches)."""
    labels = np.random.default_rng(seed).integers(0, 8, n)
    return clustered(n, seed + 1, labels), clustered(n, seed + 2, labels)


def displaced(x: np.ndarray, shift: float) -> np.ndarray:
    """Half the points moved off their clusters by ``shift`` along the first coordinate."""
    out = x.copy()
    out[: len(x) // 2, 0] += shift
    return out


@pytest.mark.parametrize("measure_id", DIVERGENCES)
def test_identical_clouds_give_zero_and_a_displacement_grows(measure_id):
    from engine.metrics import estimator

    f = estimator(measure_id)
    x = np.random.default_rng(0).normal(size=(24, 2))  # one small blob: the converged solver is quick on it
    assert abs(f(x, x)) < 1e-6
    values = [f(displaced(x, s), x) for s in (0.1, 0.3, 0.6)]
    assert values[0] > 1e-4
    assert values == sorted(values) and values[2] > 2 * values[0]


def test_every_registered_measure_is_complete_and_listed_by_id():
    for m in all_measures():
        for field in ("estimator", "library", "point_sets", "sample_size", "coordinates", "normalisation"):
            assert getattr(m, field), f"{m.id} has no {field}"
        if m.metric == "EMD":
            assert m.floor, f"{m.id} does not say how its floor is computed"
    assert get(GRANT2025_SINKHORN).parameters["blur"] == 0.05
    with pytest.raises(ValueError, match="unknown measure"):
        get("emd")


def test_the_paper_estimator_is_geomloss_and_the_fast_loop_matches_it():
    from geomloss import SamplesLoss

    from engine.paper_estimator import paper_divergence, paper_divergence_fast

    x, y = clustered(300, 1), clustered(280, 2)
    expected = float(SamplesLoss("sinkhorn", p=2, blur=0.05)(torch.tensor(x).float(), torch.tensor(y).float()))
    assert paper_divergence(x, y) == expected
    for a, b in ((x, y), (displaced(x, 0.4), x), (y * 3.0, x)):
        fast = paper_divergence_fast(torch.tensor(a).float(), torch.tensor(b).float())
        assert fast == pytest.approx(paper_divergence(a, b), abs=1e-7, rel=1e-5)


def test_the_paper_estimator_is_not_converged_sinkhorn():
    """geomloss's ε-scaling stops early: on clustered data its value differs from the converged divergence."""
    from engine.metrics import sinkhorn_divergence
    from engine.paper_estimator import paper_divergence

    x, y = clustered(100, 3), clustered(100, 4)
    paper, converged = paper_divergence(x, y), sinkhorn_divergence(x, y)
    assert abs(paper - converged) > 0.1 * converged


def test_measure_divergences_gives_each_measure_its_floor():
    from engine.metrics import PointSets, measure_divergences

    natives = clustered(400, 6)
    matched, matched2 = class_matched_pair(400, seed=5)
    sets = PointSets(intervened=displaced(matched, 1.5), paper_natives=natives, matched=matched,
                     matched2=matched2, task_natives=natives)
    out = measure_divergences(sets, "matched", subsample_seed=0, sinkhorn_max_points=60, emd_max_points=None)
    assert set(out) == {GRANT2025_SINKHORN, "sinkhorn_converged_matched", "exact_emd_matched"}
    assert out["sinkhorn_converged_matched"]["n_points"] == [60, 60]
    assert out[GRANT2025_SINKHORN]["n_points"] == [400, 400]
    for entry in out.values():
        assert 0 <= entry["floor"] < entry["value"] / 3
    # a perfect intervention scores its own floor
    perfect = PointSets(intervened=matched2, paper_natives=natives, matched=matched, matched2=matched2,
                        task_natives=natives)
    again = measure_divergences(perfect, "matched", subsample_seed=0, sinkhorn_max_points=60, emd_max_points=None)
    for mid, entry in again.items():
        assert entry["value"] == pytest.approx(entry["floor"], rel=1e-9, abs=1e-12)
