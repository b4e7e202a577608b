"""Boundless DAS: mask at both temperature ends, boundary that cannot freeze, one training step per family."""
from __future__ import annotations

import math

import pytest
import torch

from engine.boundless import (BoundlessConfig, BoundlessIntervention, boundary_mask, cl_loss, evaluate, interchange,
                              project, run_sweep, train_boundless)
from engine.boundless_data import DataConfig, prepare, tiny_task_lm


@pytest.mark.parametrize("b", [0.1, 0.37, 0.5, 0.8])
def test_mask_is_hard_at_low_temperature(b):
    d = 64
    m = boundary_mask(torch.tensor(b), d, temperature=0.001)
    k = round(b * d)
    assert torch.allclose(m[:k], torch.ones(k), atol=1e-6)
    assert torch.allclose(m[k:], torch.zeros(d - k), atol=1e-6)
    assert int((m > 0.5).sum()) == k


def test_mask_is_soft_at_high_temperature():
    d = 64
    b = torch.tensor(0.5, requires_grad=True)
    m = boundary_mask(b, d, temperature=50.0)
    assert bool(((m > 0.05) & (m < 0.95)).all())  # no dimension is fully in or out
    assert float((m.max() - m.min()).detach()) < 0.5
    m.sum().backward()
    assert b.grad is not None and float(b.grad) > 0  # widening the boundary raises every weight
    # the schedule runs from 50 to 0.1
    cfg = BoundlessConfig(steps=11)
    assert cfg.temperature(0) == 50.0 and math.isclose(cfg.temperature(10), 0.1)
    assert cfg.penalty_weight(0) == 0.0 and cfg.penalty_weight(10) == cfg.boundary_penalty


def test_boundary_cannot_freeze_at_its_ends():
    iv = BoundlessIntervention(16, boundary_init=0.5)
    assert math.isclose(float(iv.boundary().detach()), 0.5, abs_tol=1e-6)
    for logit in (-8.0, 8.0):  # b ≈ 0.0003 and ≈ 0.9997: still a gradient
        iv.boundary_logit.data.fill_(logit)
        iv.zero_grad()
        iv.mask(1.0).sum().backward()
        assert iv.boundary_logit.grad is not None and float(iv.boundary_logit.grad) != 0.0


def test_rotation_is_orthogonal_and_interchange_swaps_the_masked_part():
    torch.manual_seed(0)
    iv = BoundlessIntervention(8)
    r = iv.rotation()
    torch.testing.assert_close(r @ r.T, torch.eye(8), atol=1e-5, rtol=0)
    base, src = torch.randn(3, 8), torch.randn(3, 8)
    full = interchange(base, src, r, torch.ones(8))
    none = interchange(base, src, r, torch.zeros(8))
    torch.testing.assert_close(full, src, atol=1e-5, rtol=0)
    torch.testing.assert_close(none, base, atol=1e-5, rtol=0)
    half = torch.tensor([1.0] * 3 + [0.0] * 5)
    mixed = interchange(base, src, r, half)
    torch.testing.assert_close(project(mixed, r, half), project(src, r, half), atol=1e-5, rtol=0)
    assert float(cl_loss(project(src, r, half), project(src, r, half)).detach()) < 1e-6


@pytest.mark.parametrize("epsilon", [0.0, 2.0])
def test_one_training_step_on_tiny_random_models(tiny_model, epsilon):
    lm = tiny_task_lm(tiny_model, name="random")
    prep = prepare(lm, layer=0, position=14, data=DataConfig(train_pairs=32, test_pairs=24, divergence_n=10,
                                                             divergence_resamples=1, batch_size=16))
    torch.manual_seed(0)
    before = BoundlessIntervention(32).state_dict()
    cfg = BoundlessConfig(epsilon=epsilon, seed=0, steps=1, batch_size=16, penalty_warmup=0.0)
    trained = train_boundless(prep, cfg)
    after = trained.intervention.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert "boundary_logit" in changed and any(k.startswith("rotate") for k in changed)
    assert math.isfinite(trained.final_ce)
    assert trained.final_cl > 0 and trained.mean_cl == trained.final_cl  # measured at every ε, ε = 0 included
    ev = evaluate(prep, trained)
    assert 0.0 <= ev.iia <= 1.0 and ev.n == 24 and ev.intervened_states.shape == (24, 32)
    assert not any(p.requires_grad for p in tiny_model.parameters())


def test_sweep_summary_and_table(tiny_gpt2):
    lm = tiny_task_lm(tiny_gpt2, name="random")
    prep = prepare(lm, 1, 15, DataConfig(train_pairs=32, test_pairs=40, divergence_n=16, divergence_resamples=2,
                                         batch_size=20))
    result = run_sweep(prep, [0.0, 1.0], [0, 1], BoundlessConfig(steps=2, batch_size=16))
    assert [s.epsilon for s in result.summaries] == [0.0, 1.0]
    assert all(s.seeds == 2 for s in result.summaries)
    s0 = result.summaries[0]
    divs = [r.divergence for r in result.runs if r.epsilon == 0.0]
    assert len(divs) == 2 and s0.divergence.n == s0.emd.n == 2
    assert s0.divergence.mean == pytest.approx(sum(d["value"] for d in divs) / 2)
    assert s0.emd.mean == pytest.approx(sum(d["emd"] for d in divs) / 2)
    assert s0.emd.mean == pytest.approx(s0.divergence.mean)  # the default estimator is the exact EMD
    # the native baseline is the same for every seed: its SEM is over the two resamples
    assert (s0.divergence_baseline.n, s0.divergence_baseline.mean) == (2, pytest.approx(divs[0]["baseline"]))
    text = result.table()
    assert "changed" in text and "IIA argmax" in text and "gpt2.h.1.out@pos15" in text
    assert "exact_emd_zscored_per_sqrt_d (baseline)" in text and "protocol engine" in text
    js = result.to_json()
    assert js["site"] == "gpt2.h.1.out@pos15" and js["training"]["steps"] == 2 and len(js["runs"]) == 4
    assert result.config()["data"]["train_pairs"] == 32


def test_findings_of_a_sweep_name_method_dataset_and_site(tiny_gpt2):
    from engine.record_boundless import findings_of

    lm = tiny_task_lm(tiny_gpt2, name="random")
    prep = prepare(lm, 0, 15, DataConfig(train_pairs=32, test_pairs=40, divergence_n=16, divergence_resamples=2,
                                         batch_size=20))
    result = run_sweep(prep, [0.0, 4.0], [0, 1], BoundlessConfig(steps=2, batch_size=16))
    found = findings_of(result)
    assert len(found) == 8  # per ε: IIA by both definitions, and both divergence measures
    iia0, argmax0, div0, paper0, iia4, argmax4, div4, paper4 = found
    assert [f.measurement.measure for f in found[:4]] == ["iia_yes_no_logit", "iia_argmax",
                                                        "exact_emd_zscored_per_sqrt_d",
                                                        "grant2025_geomloss_zscored_per_sqrt_d"]
    assert iia0.methods == ["Boundless DAS"] and iia4.methods == ["Boundless DAS", "CL"]
    assert iia4.title.startswith("Boundless DAS with CL loss (ε=4)") and "±" in iia4.title
    assert "(layer 0, pos 15)" in iia4.title and iia4.dataset == "price_tagging"
    cond = div4.measurement.conditions
    assert cond["site"] == "gpt2.h.0.out@pos15" and cond["epsilon"] == 4.0
    assert div4.measurement.measure == "exact_emd_zscored_per_sqrt_d" and div4.measurement.higher_is_better is False
    assert iia4.measurement.measure == "iia_yes_no_logit" and "measure" not in cond
    assert (cond["protocol"], cond["cl_target"], cond["cl_space"]) == ("engine", "class-mean", "subspace")
    base = result.summaries[1].divergences["exact_emd_zscored_per_sqrt_d"]["baseline"]
    assert div4.measurement.floor == base.to_json()  # native vs native, over seeds
    assert paper4.measurement.floor == result.summaries[1].divergences[paper4.measurement.measure]["baseline"].to_json()
    assert iia0.measurement.err_kind == "sem" and iia0.measurement.n == 2
