"""IIA, the debiased Sinkhorn divergence and exact EMD (engine.metrics), and the CL loss (engine.losses)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.metrics import entropic_ot, exact_emd, iia, sinkhorn_divergence, subsample


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x, y = rng.choice([-1, 1], n), rng.choice([0, 2, 3, 4], n)
    return np.stack([x + 0.2 * y, y - 2.0], 1) + rng.normal(0, 0.1, (n, 2))


def test_iia_counts_argmax_hits():
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    assert iia(logits, torch.tensor([1, 0, 0, 0])) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        iia(logits[:0], torch.tensor([], dtype=torch.long))


def test_sinkhorn_divergence_of_a_set_with_itself_is_zero():
    x = clustered(120, 0)
    assert abs(sinkhorn_divergence(x, x)) < 1e-7


def test_sinkhorn_divergence_grows_with_a_shift_as_half_the_squared_shift():
    x = clustered(120, 1)
    values = []
    for shift in (0.05, 0.1, 0.3):
        s = sinkhorn_divergence(x, x + np.array([shift, 0.0]))
        values.append(s)
        # a translation by δ adds exactly ½|δ|² to OT_ε(x, ·) for the cost ½‖a−b‖²; the self-terms cancel
        assert s == pytest.approx(0.5 * shift**2, rel=1e-4, abs=1e-7)
    assert values == sorted(values)
    assert exact_emd(x, x + np.array([0.3, 0.0])) == pytest.approx(0.045, rel=1e-6)


def test_entropic_value_matches_pot_plain_sinkhorn_where_that_converges():
    import ot

    x, y = clustered(60, 2), clustered(50, 3)
    eps = 0.5  # large enough for plain Sinkhorn to converge quickly
    cost = 0.5 * ot.dist(x, y)
    a, b = np.full(60, 1 / 60), np.full(50, 1 / 50)
    plan = ot.bregman.sinkhorn_log(a, b, cost, eps, numItermax=100000, stopThr=1e-12)
    expected = np.sum(plan * cost) + eps * np.sum(plan * np.log(plan / np.outer(a, b)))
    assert entropic_ot(x, y, eps=eps) == pytest.approx(expected, rel=1e-7)


def test_sinkhorn_is_converged_at_the_paper_eps_on_clustered_data():
    x, y = clustered(150, 4), clustered(140, 5)
    s = sinkhorn_divergence(x, y)
    assert 0 < s < exact_emd(x, y) + 0.05


def test_exact_emd_uses_the_half_squared_cost():
    assert exact_emd(np.zeros((1, 2)), np.array([[3.0, 4.0]])) == pytest.approx(12.5)


def test_subsample_is_deterministic_and_bounded():
    x = np.arange(100.0)[:, None]
    assert np.array_equal(subsample(x, 10, seed=1), subsample(x, 10, seed=1))
    assert len(subsample(x, 10, seed=1)) == 10
    assert subsample(x, None) is x


def test_cl_loss_is_zero_when_the_intervened_vector_equals_its_target():
    from engine.interventions import make_map, variable_mask
    from engine.losses import cl_loss

    m = make_map("linear", 18, seed=0)
    w, w_inv = m.matrices()
    h = torch.randn(6, 18)
    mask = variable_mask(torch.tensor([0, 1, 0, 1, 0, 1]), 18)
    assert float(cl_loss(h, h.clone(), mask, w, w_inv).detach()) == pytest.approx(0.0, abs=1e-6)
    assert float(cl_loss(h, h + 1.0, mask, w, w_inv).detach()) > 0.0


def test_total_loss_names_its_terms():
    from engine.losses import total_loss

    logits, target = torch.randn(4, 10), torch.tensor([0, 1, 2, 3])
    h = torch.randn(4, 18)
    mask = torch.zeros(4, 18)
    mask[:, 0] = 1
    eye = torch.eye(18)
    das = total_loss("das", logits, target, h, h + 1, mask, eye, eye)
    cl = total_loss("cl", logits, target, h, h + 1, mask, eye, eye)
    both = total_loss("das+cl", logits, target, h, h + 1, mask, eye, eye, cl_weight=100.0)
    assert float(both) == pytest.approx(float(das) + 100.0 * float(cl), rel=1e-5)
    with pytest.raises(ValueError, match="Unknown loss"):
        total_loss("mse", logits, target, h, h, mask, eye, eye)
