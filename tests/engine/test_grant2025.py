"""The paper's protocol (engine.grant2025): its interventions, probes, training length and checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import grant2025 as paper


@pytest.fixture(scope="module")
def samples():
    return paper.draw_samples(samples_per_class=20, data_seed=0)


def test_the_causal_draw_is_shared_and_centred(samples):
    again = paper.draw_samples(samples_per_class=20, data_seed=0)
    assert np.array_equal(samples.causal, again.causal)
    assert np.abs(samples.causal.mean(0)).max() < 1e-6
    assert len(samples.causal) == 200 and set(zip(samples.x[:10], samples.y[:10])) == {
        (x, y) for x in (-1, 1) for y in range(5)}


def test_interventions_swap_x_only_100_per_class(samples):
    sets = paper.make_task_sets(samples, "og_holdouts", seed=3, per_class=25)
    t1, t2 = sets["task1"], sets["task2"]
    assert len(t1) == len(t2) == 8 * 25
    for ts in (t1, t2):
        # the source carries the target's x, the base the target's y: swapping x gives the target class
        assert np.array_equal(ts.src_xy[:, 0], ts.target_xy[:, 0])
        base_y = np.array([ts.classes[int(b)][1] for b in ts.base_label])
        assert np.array_equal(base_y, ts.target_xy[:, 1])
        assert np.array_equal(np.array([ts.classes[int(t)] for t in ts.target]), ts.target_xy)
    # one 10-class probe for og_holdouts: task 1's classes first, task 2's new ones appended
    assert t1.classes == t2.classes and len(t1.classes) == 10
    assert set(t1.classes[:8]) == {(x, y) for x in (-1, 1) for y in (0, 2, 3, 4)}
    assert set(t1.classes[8:]) == {(-1, 1), (1, 1)}
    # each task draws its own noise dimensions, even for the classes both share
    assert not torch.equal(t1.natives[:, 2:5], t2.natives[:, 2:5])


def test_inner_square_trains_one_probe_per_task(samples):
    sets = paper.make_task_sets(samples, "inner_square", seed=1, per_class=10)
    assert sets["task1"].classes != sets["task2"].classes
    probes = paper.train_probes(sets, seed=1, max_epochs=5, patience=3)
    assert {n: k for n, (_, k, _) in probes.items()} == {"task1": 4, "task2": 4}


def test_cl_targets_are_means_of_the_half_s_sources(samples):
    ts = paper.make_task_sets(samples, "og_holdouts", seed=0, per_class=10)["task1"]
    targets, variable = paper.cl_targets(ts, seed=4)
    assert int((variable == 0).sum()) == len(ts) // 2
    rows_x = torch.nonzero(variable == 0).flatten()
    i = int(rows_x[0])
    pool = rows_x[torch.from_numpy(ts.src_xy[rows_x.numpy(), 0] == ts.target_xy[i, 0])]
    assert torch.allclose(targets[i], ts.src[pool].mean(0))


@pytest.mark.parametrize("loss", ["das", "cl"])
def test_training_stops_after_patience_plus_one_updates_and_keeps_the_map_after_its_update(samples, loss):
    sets = paper.make_task_sets(samples, "og_holdouts", seed=0, per_class=10)
    state, n_classes, _ = paper.train_probes(sets, seed=0, max_epochs=10, patience=5)["task1"]
    probe = paper.load_probe(state, n_classes)
    out = paper.train_map(probe, sets["task1"], loss, map_seed=7, cl_seed=8, n_epochs=3000, patience=4)
    assert out.epochs == 5  # the counter grows every epoch: 3000 allowed, patience + 1 run
    assert 0 <= out.chosen_epoch < 5
    assert (out.chosen_train_divergence is None) == (loss == "das")
    initial = paper.paper_linear_map(7)
    assert not torch.equal(out.align_map.A, initial.A)  # even epoch 0's snapshot follows its update
    assert float(initial.s.detach().abs().max()) < 0.1  # the paper's sign init: N(0, 0.01²), not ones
