"""Boundless DAS trained as the paper's code trained it (``findings run boundless --protocol grant2025``).

Read from grantsrb/rep_divergence ``divergence/collect_cl_boundless_das.py`` (which adapts pyvene's Boundless
DAS tutorial) and its vendored pyvene ``BoundlessRotatedSpaceIntervention``; where the paper's text and the
code differ, this follows the code:

- **Intervention** (``BoundlessIntervention(style="pyvene")``): an orthogonal rotation under torch's default
  ``matrix_exp`` map from an orthogonal init; the boundary is a raw parameter (init 0.5) clamped to [1e-3, 1] in
  the mask m_i = σ(i/τ)·σ((b·D − i)/τ), i = 0…D−1 (so dim 0 stays at ½).
- **Loss**: cross-entropy of the full-vocabulary logits at the last position against the counterfactual answer
  token, plus 1.0 × the raw boundary parameter (no warm-up), plus ε·L_CL. The paper's L_CL (``do_rotate=False``)
  compares the intervened hidden vector with the native state of the pair's *CL prompt* (the source's lower
  bound, the base's upper bound and amount) on the full vector: mean((h̃ − c)²) over B×D + 1 − mean cos(h̃, c).
  ``cl_target`` / ``cl_space`` switch either piece to the engine's (:func:`engine.boundless.cl_term`).
- **Schedule**: 3 epochs over the training pairs in shuffled batches of 32 (the last partial batch kept),
  gradients accumulated over 4 batches — but the first update waits for batches 0–4 (the code skips the step at
  batch 0 and steps whenever batch % 4 == 0), and whatever accumulates after the last update is dropped. Adam,
  rotation lr 1e-3, boundary lr 1e-2, under transformers' linear warm-up/decay schedule whose horizon is the
  number of *batches* (3 × 250 = 750 on 8,000 pairs, warm-up 10 % of it = 75) while it is stepped once per
  *update* (187 times): the learning rate rises for the first 75 updates and has decayed only to ~83 % of its
  peak at the end. The temperature follows linspace(50, 0.1, batches) in bfloat16, set after each update to the
  value at the current batch index; evaluation uses the temperature training ended at.
- **Pairs**: the region sampler (:func:`engine.pricetag.sample_region_pairs`), 8,000 training and 1,000 test
  pairs (``DataConfig(sampler="regions", train_pairs=8000, test_pairs=1000)``).

The reported accuracy is both the paper's (argmax over the vocabulary equals the answer token) and the
engine's (yes vs no logit, with the no-op baseline and changed-pair IIA); the paper rounded its accuracy to two
decimals, this does not.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from engine.boundless import BoundlessConfig, BoundlessIntervention, TrainedIntervention, _intervened_logits, cl_term
from engine.boundless_data import PreparedSite
from engine.sites import hidden_size


def linear_warmup_decay(step: int, warmup: float, horizon: int) -> float:
    """transformers' ``get_linear_schedule_with_warmup`` factor at scheduler step ``step``."""
    if step < warmup:
        return step / max(1.0, warmup)
    return max(0.0, (horizon - step) / max(1.0, horizon - warmup))


def temperature_schedule(start: float, end: float, batches: int) -> list[float]:
    """linspace(start, end, batches) rounded through bfloat16, as the paper's schedule tensor."""
    return [float(t) for t in torch.linspace(start, end, batches).to(torch.bfloat16).float()]


def train_paper(prep: PreparedSite, cfg: BoundlessConfig,
                log: Callable[[str], None] | None = None) -> TrainedIntervention:
    """The paper's training loop (module docstring) on ``prep.train``; returns the intervention as it ended."""
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    d = hidden_size(prep.lm.model)
    iv = BoundlessIntervention(d, cfg.boundary_init, cfg.orthogonal_map, style="pyvene").to(prep.lm.device)
    opt = torch.optim.Adam([{"params": list(iv.rotate.parameters()), "lr": cfg.lr},
                            {"params": [iv.boundary_logit], "lr": cfg.boundary_lr}])
    n = len(prep.train.pairs)
    per_epoch = math.ceil(n / cfg.batch_size)
    horizon = per_epoch * cfg.epochs
    warmup = cfg.warmup_share * horizon
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear_warmup_decay(s, warmup, horizon))
    temps = temperature_schedule(cfg.temperature_start, cfg.temperature_end, horizon)
    temperature = temps[0]
    gen = torch.Generator().manual_seed(cfg.seed)
    gas = cfg.grad_accumulation
    total = updates = 0
    ce = cl = pen = torch.zeros(())
    sum_ce = sum_cl = 0.0
    opt.zero_grad(set_to_none=True)
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        for b in range(per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size].to(prep.lm.device)
            rotation = iv.rotation()
            mask = iv.mask(temperature)
            logits, h_tilde = _intervened_logits(prep, iv, prep.train, idx, rotation, mask)
            ce = nn.functional.cross_entropy(logits, prep.train.target_token[idx])
            pen = cfg.boundary_penalty * iv.penalty_value()
            loss = ce + pen
            if cfg.epsilon > 0:
                cl = cl_term(prep, prep.train, idx, h_tilde, rotation, mask, cfg)
                loss = loss + cfg.epsilon * cl
            else:
                with torch.no_grad():
                    cl = cl_term(prep, prep.train, idx, h_tilde, rotation, mask, cfg)
            sum_ce += float(ce.detach())
            sum_cl += float(cl.detach())
            (loss / gas if gas > 1 else loss).backward()
            if total % gas == 0 and not (gas > 1 and total == 0):
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                temperature = temps[min(total, horizon - 1)]
                updates += 1
            total += 1
        if log:
            log(f"    epoch {epoch + 1}/{cfg.epochs} ce {ce.item():.3f} cl {float(cl.detach()):.3f} "
                f"b {iv.boundary().item():.3f} τ {temperature:.2f} ({updates} updates)")
    return TrainedIntervention(iv, cfg, round(time.perf_counter() - start, 2), float(ce.detach()), float(cl.detach()),
                               float(pen.detach()), mean_ce=sum_ce / total, mean_cl=sum_cl / total,
                               final_temperature=temperature, updates=updates)
