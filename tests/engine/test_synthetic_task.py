"""The synthetic task, a perfect alignment, training guards, and the transfer protocol end to end."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from engine.synthetic import DIM, PARTITIONS, class_index, make_data, make_interventions


class NearestCentroid(nn.Module):
    """An exact classifier for the task: nearest class centre on the causal coordinates."""

    def __init__(self, center):
        super().__init__()
        centres = [(x + 0.2 * y, y) for x in (-1, 1) for y in range(5)]
        self.register_buffer("centres", torch.tensor(centres, dtype=torch.float32) - torch.tensor(center).float())

    def forward(self, h):
        return -torch.cdist(h[:, :2], self.centres)


def perfect_map():
    """W with (h W)[:, 0] = x-part (c0 − 0.2·c1) and (h W)[:, 1] = y; other coordinates kept."""
    from engine.interventions import FixedMap

    w = torch.eye(DIM)
    w[1, 0] = -0.2
    return FixedMap(w)


def test_data_shapes_and_classes():
    d = make_data(seed=1, samples_per_class=4)
    assert d.features.shape == (40, DIM)
    assert torch.equal(d.labels, class_index(d.x, d.y))
    assert sorted(torch.unique(d.labels).tolist()) == list(range(10))
    assert d.features[:, :2].mean(0).abs().max() < 1e-5  # centred causal coordinates
    again = make_data(seed=1, samples_per_class=4)
    assert torch.equal(d.features, again.features)
    task = d.subset(PARTITIONS["og_holdouts"]["task1"])
    assert set(task.y.tolist()) == {0, 2, 3, 4}


def test_counterfactual_targets_follow_the_swapped_variable():
    d = make_data(seed=2, samples_per_class=10).subset((0, 1, 3, 4))
    s = make_interventions(d, 50, seed=0)
    assert len(s) == 100
    cls = torch.arange(10)
    x_of, y_of = torch.where(cls >= 5, 1, -1), cls % 5
    is_x = s.variable == 0
    assert torch.all(y_of[s.target][is_x] == y_of[s.base_label][is_x])
    assert torch.all(x_of[s.target][~is_x] == x_of[s.base_label][~is_x])
    assert torch.equal(class_index(x_of, y_of), cls)


def test_iia_of_a_perfect_map_is_one():
    from engine.metrics import iia
    from engine.protocol import evaluate_alignment

    d = make_data(seed=3, samples_per_class=40)
    clf = NearestCentroid(d.center)
    task = d.subset(PARTITIONS["og_holdouts"]["task2"])
    s = make_interventions(task, 200, seed=1)
    result = evaluate_alignment(clf, perfect_map(), s, task.features, k=1, task="task2", y_values=(0, 1, 3, 4),
                                sinkhorn_max_points=150, emd_max_points=None, subsample_seed=0)
    assert result.iia == 1.0
    assert result.noop_iia < 0.6
    # a perfect swap lands on the native clusters: every divergence near its floor (a perfect intervention)
    assert set(result.divergences) == {"grant2025_geomloss_sinkhorn", "sinkhorn_converged_matched", "exact_emd_matched"}
    for entry in result.divergences.values():
        assert entry["value"] < 2 * entry["floor"] + 1e-3
    assert iia(clf(task.features), task.labels) == 1.0


def test_divergence_checkpoint_choice_never_picks_epoch_zero(tiny_data, tiny_classifier):
    from engine.interventions import make_map
    from engine.training import TrainConfig, train_alignment

    s = make_interventions(tiny_data.subset((0, 2, 3, 4)), 60, seed=2)
    out = train_alignment(tiny_classifier, make_map("linear", DIM, seed=1), s,
                          TrainConfig(loss="cl", max_epochs=30, eval_every=5, patience=10))
    assert out.chosen.epoch >= 5
    assert all(c.epoch > 0 for c in out.history)
    assert out.chosen.train_iia >= max(c.train_iia for c in out.history) - 0.01


def tiny_config(loss="das", **kw):
    from engine.protocol import make_config

    args = dict(seeds=1, max_epochs=25, patience=10, samples_per_class=15, n_train_per_variable=40,
                n_eval_per_variable=40, classifier_max_epochs=20, eval_every=5)
    args.update(kw)
    return make_config("og_holdouts", loss, **args)


def test_protocol_end_to_end_is_deterministic_and_matches_the_contract():
    from engine.protocol import run_synthetic

    a = run_synthetic(tiny_config("das+cl"), workers=1, progress=False).to_json()
    b = run_synthetic(tiny_config("das+cl"), workers=1, progress=False).to_json()
    assert set(a) == {"protocol", "task", "partition", "loss", "map", "epsilon", "seeds", "k", "site", "measures",
                      "measure_params", "divergence_measure", "divergence_measures", "train", "cross", "per_run",
                      "wall_time_s", "config"}
    assert a["task"] == "synthetic10" and a["epsilon"] == 100.0 and a["map"] == "linear"
    assert a["site"] == "synthetic10.input" and a["config"]["k"] == 1
    assert a["config"]["classifier_ties"] == "last"
    assert {"mean", "sem"} <= set(a["cross"]["iia"]) and {"mean", "sem"} <= set(a["cross"]["emd"])
    assert [r["direction"] for r in a["per_run"]] == ["task1->task2", "task2->task1"]
    run = a["per_run"][0]
    assert {"seed", "epochs", "chosen_epoch", "duration_s"} <= set(run)
    assert set(run["cross"]["divergences"]) == set(a["measures"])
    assert all(set(d) == {"value", "floor", "n_points"} for d in run["cross"]["divergences"].values())
    strip = lambda d: [{k: v for k, v in r.items() if k != "duration_s"} for r in d["per_run"]]  # noqa: E731
    assert strip(a) == strip(b)
    json.dumps(a)


def test_protocol_with_two_workers_matches_one_worker():
    from engine.protocol import run_synthetic

    cfg = tiny_config("das", seeds=2)
    one = run_synthetic(cfg, workers=1, progress=False)
    two = run_synthetic(cfg, workers=2, progress=False)
    assert [(r.seed, r.direction, r.cross.iia, r.cross.divergences) for r in one.runs] == \
           [(r.seed, r.direction, r.cross.iia, r.cross.divergences) for r in two.runs]


def test_make_config_refuses_unknown_names():
    from engine.protocol import make_config

    with pytest.raises(ValueError, match="partition"):
        make_config("outer_square", "das")
    with pytest.raises(ValueError, match="loss"):
        make_config("og_holdouts", "mse")
    with pytest.raises(ValueError, match="classifier tie rule"):
        make_config("og_holdouts", "das", classifier_ties="middle")


def test_classifier_tie_rule_decides_which_best_checkpoint_is_kept(tiny_data):
    import torch

    from engine.synthetic import train_classifier

    torch.set_num_threads(1)
    _, first = train_classifier(tiny_data, seed=0, max_epochs=80, patience=20, ties="first")
    _, last = train_classifier(tiny_data, seed=0, max_epochs=80, patience=20, ties="last")
    assert first.val_accuracy == last.val_accuracy  # same draws, same best accuracy
    assert last.best_epoch > first.best_epoch  # the tiny task saturates, so ties exist
    assert last.epochs >= first.epochs  # a tie counts as progress for the patience
