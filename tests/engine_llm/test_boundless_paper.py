"""Boundless DAS as the paper ran it: region-sampled pairs, the CL prompt, full-vector CL, its schedule and its
divergence — on a seconds-scale model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.boundless import BoundlessConfig, BoundlessIntervention, cl_loss, evaluate, run_sweep, train_boundless
from engine.boundless_data import DataConfig, prepare, tiny_task_lm
from engine.boundless_paper import linear_warmup_decay, temperature_schedule
from engine.pricetag import REGION_PAIRS, CompactTokenizer, sample_region_pairs


def region(ex) -> int:
    return 1 if ex.amount < ex.lower else (3 if ex.amount > ex.upper else 2)


def test_region_sampler_balances_the_label_and_draws_from_the_paper_s_regions():
    pairs = sample_region_pairs(2000, seed=3)
    assert abs(sum(p.label for p in pairs) / len(pairs) - 0.5) < 0.04
    for p in pairs:
        assert (region(p.base), region(p.source)) in REGION_PAIRS[p.label]
        for ex in (p.base, p.source):
            assert 250 <= ex.upper - ex.lower <= 750 and 5 <= ex.lower and ex.upper <= 995
    assert sample_region_pairs(50, seed=3) == pairs[:50]


def test_the_cl_prompt_takes_the_source_s_lower_bound_and_the_base_s_upper_bound_and_amount():
    tok = CompactTokenizer()
    for p in sample_region_pairs(20, seed=1):
        words = tok.decode(tok.encode(p.cl_prompt)).split()
        # "between l0 . l1 l2 and u0 . u1 u2 : a0 . a1 a2 ?"
        lower, upper, amount = "".join(words[1:5]), "".join(words[6:10]), "".join(words[11:15])
        assert (lower, upper, amount) == (p.source.prices()[0], p.base.prices()[1], p.base.prices()[2])


def test_the_full_space_cl_loss_is_zero_at_its_target_and_grows_away_from_it():
    h = torch.randn(5, 16)
    assert float(cl_loss(h, h.clone())) < 1e-6
    assert float(cl_loss(h + 0.5, h)) > float(cl_loss(h + 0.1, h)) > 0


def test_the_paper_s_schedule():
    # transformers' linear warm-up/decay: 0 at step 0, 1 at the end of warm-up, 0 at the horizon
    assert linear_warmup_decay(0, 75, 750) == 0.0
    assert linear_warmup_decay(75, 75, 750) == 1.0
    assert linear_warmup_decay(187, 75, 750) == pytest.approx((750 - 187) / 675)
    temps = temperature_schedule(50.0, 0.1, 750)
    assert len(temps) == 750 and temps[0] == 50.0 and temps[-1] == pytest.approx(0.1, rel=0.01)
    assert temps[1] == float(torch.tensor(50.0 - 49.9 / 749).to(torch.bfloat16))  # bfloat16, as the paper's tensor


def test_the_pyvene_style_boundary_is_clamped_in_the_mask_and_raw_in_the_penalty():
    iv = BoundlessIntervention(8, boundary_init=0.5, orthogonal_map="matrix_exp", style="pyvene")
    iv.boundary_logit.data.fill_(-0.2)
    assert float(iv.boundary().detach()) == pytest.approx(1e-3)
    assert float(iv.penalty_value().detach()) == pytest.approx(-0.2)
    iv.boundary_logit.data.fill_(0.5)  # b·D = 4
    m = iv.mask(0.001).detach()
    assert float(m[0]) == 0.5  # pyvene's population starts at 0: dim 0 stays at ½
    assert torch.allclose(m[1:4], torch.ones(3)) and torch.allclose(m[5:], torch.zeros(3))


@pytest.fixture(scope="module")
def paper_prep(tiny_gpt2):
    lm = tiny_task_lm(tiny_gpt2, name="random")
    return prepare(lm, 1, 15, DataConfig(train_pairs=96, test_pairs=40, sampler="regions", divergence_n=16,
                                         divergence_resamples=2, batch_size=48))


def test_cl_prompt_states_are_the_native_states_of_the_cl_prompts(paper_prep):
    from engine.hooks import capture, token_index

    p = paper_prep.test.pairs[3]
    inputs = paper_prep.lm.encode([p.cl_prompt])
    with torch.no_grad():
        state = capture(paper_prep.lm.model, paper_prep.site, inputs, token_index(15, inputs["attention_mask"]),
                        stop=True).float()
    torch.testing.assert_close(paper_prep.test.cl_states[3], state[0])


def test_updates_follow_the_paper_s_accumulation(paper_prep):
    # 96 pairs / batch 8 = 12 batches per epoch, 2 epochs = 24 batches; steps after batches 4, 8, …, 20
    cfg = BoundlessConfig.grant2025(epochs=2, batch_size=8, epsilon=0.5, seed=1)
    trained = train_boundless(paper_prep, cfg)
    assert trained.updates == 5
    assert trained.final_temperature == temperature_schedule(50.0, 0.1, 24)[20]
    assert trained.mean_cl > 0 and trained.mean_ce > 0
    ev = evaluate(paper_prep, trained)
    assert 0 <= ev.iia_argmax <= ev.iia <= 1  # argmax over the vocabulary is stricter than yes vs no


def test_a_grant2025_sweep_names_its_protocol_and_each_divergence_with_its_baseline(paper_prep):
    base = BoundlessConfig.grant2025(epochs=1, batch_size=16)
    result = run_sweep(paper_prep, [0.0, 2.0], [0], base)
    js = result.to_json()
    assert (js["protocol"], js["cl_target"], js["cl_space"]) == ("grant2025", "cl-prompt", "full")
    assert js["divergence_measure"] == "grant2025_geomloss_zscored_per_sqrt_d"
    row = js["runs"][0]
    assert row["protocol"] == "grant2025" and set(row["divergences"]) == {
        "grant2025_geomloss_zscored_per_sqrt_d", "exact_emd_zscored_per_sqrt_d"}
    zero, two = result.summaries
    assert zero.epsilon_scaled == 0.0
    assert two.epsilon_scaled == pytest.approx(2.0 * result.runs[0].mean_cl / result.runs[0].mean_ce)


def test_the_paper_s_divergence_of_a_set_with_itself_is_near_its_baseline():
    from engine.llm_divergence import paper_llm_divergence

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 12)) * 3
    natives = centres[rng.integers(0, 4, 400)] + rng.normal(size=(400, 12))
    same = paper_llm_divergence(natives.copy(), natives, resamples=3, seed=1)
    assert same.value == pytest.approx(same.baseline, rel=0.25)
    shifted = natives.copy()
    shifted[::2, :6] += 4.0  # half the states moved off their clusters: a change of shape z-scoring cannot undo
    far = paper_llm_divergence(shifted, natives, resamples=3, seed=1)
    assert far.value > 2 * far.baseline and far.measure == "grant2025_geomloss_zscored_per_sqrt_d"
