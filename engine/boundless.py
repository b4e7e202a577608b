"""Boundless DAS with the counterfactual-latent (CL) loss on causal language models.

**Boundless DAS** (Wu et al. 2023, "Interpretability at Scale: Identifying Causal Mechanisms in Alpaca")
looks for a linear subspace of one hidden state — the output of block L at token position P, a *site*
(:mod:`engine.sites`) — that plays the role of a causal variable of a high-level model. Here the task is
Price Tagging (:mod:`engine.pricetag`) and the variable is the left-boundary check ``left = (a ≥ l)``.

* A learned orthogonal **rotation** R (D × D) re-expresses the hidden state h (B, D) as h R.
* A learned **boundary** b ∈ (0, 1) and a **temperature** τ (annealed linearly from 50 to 0.1) give a soft
  mask over rotated dimensions, m_i = σ(i/τ)·σ((b·D − i)/τ): the first ≈ b·D rotated dims hold the variable.
* An **interchange intervention** with a base prompt and a source prompt writes
  h̃ = [(1 − m) ⊙ h_base R + m ⊙ h_src R] Rᵀ back into the base run at the site (forward hooks,
  :mod:`engine.hooks`; the model's weights never change); the model should then answer the
  *counterfactual* label, ``left(source) and right(base)``.
* Training minimises the **DAS behavioural loss**, cross-entropy of the answer-token logits of the
  intervened run against the counterfactual answer token (full vocabulary), plus a **boundary penalty**
  λ·b that favours a narrow subspace. Only R and b are trained; the model is frozen.

**The CL term** (Grant et al. 2025, "Addressing divergent representations from causal interventions on
neural networks", arXiv 2511.04638) adds ε·L_CL to keep intervened states close to states the model
produces natively, L_CL = mean((h̃ − c)²) + mean(1 − cos(h̃, c)) with c detached. Two choices, each a switch
(:func:`cl_term`):

* the target c (``cl_target``): ``class-mean`` (the engine's) — the mean native site state over the training
  prompts whose ``left`` equals the value the intervention writes, ``left(source)``; ``cl-prompt`` (the
  paper's) — the native state of the pair's CL prompt (the source's lower bound, the base's upper bound and
  amount, :attr:`engine.pricetag.CounterfactualPair.cl_prompt`);
* the space (``cl_space``): ``subspace`` (the engine's) — both sides projected onto the variable's subspace
  with the same mask, P(x) = [(x R) ⊙ m] Rᵀ; ``full`` (the paper's, ``do_rotate=False``) — the whole hidden
  vectors.

``protocol="grant2025"`` trains as the paper's code did (:mod:`engine.boundless_paper`); the default
``engine`` protocol is the loop below.

**Measured** on held-out pairs, with the mask at the final temperature:

* raw IIA — share of pairs where the intervened run answers the counterfactual label (yes vs no logit);
* the *no-op baseline* — the same score for the unintervened base run (about two thirds of balanced pairs
  keep the base's label, so raw IIA alone flatters an intervention that does nothing);
* *changed-pair IIA* — IIA on the pairs whose counterfactual label differs from the base's true label;
* the learned width b·D and the hard width (#dims with m > 0.5);
* divergence of intervened vs native site states (:mod:`engine.llm_divergence`: z-scored, / √d, 5 resamples;
  exact EMD by default, the converged debiased Sinkhorn divergence on request) with its native baseline.

Choices made here, and why:

* The rotation uses ``orthogonal_map="cayley"`` and is built once per step and reused for rotating and
  rotating back (the matrix-exponential map costs ~80 s per step at D = 4096 on CPU).
* b = σ(β) with a free logit β (init b = 0.5): a ``clamp``ed boundary freezes at its limits under Adam
  (zero gradient there); the logit has its own (smaller) learning rate and the penalty is warmed up
  linearly over the first ``penalty_warmup`` share of steps.
* The mask uses dimension centres i + ½ (m_i = σ((i+½)/τ)·σ((b·D − i − ½)/τ)), so at τ → 0 it is exactly
  1 on the first round(b·D) dims and 0 elsewhere; with i itself (as in pyvene) dim 0 stays at ½ forever.
* The last training step's intervention is the one evaluated (no checkpoint selection).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.boundless_data import (
    DataConfig,
    PreparedSite,
    SplitData,
    TaskLM,
    prepare,
    slice_inputs,
)
from engine.hooks import replacing
from engine.sites import hidden_size

BOUNDLESS_PROTOCOLS = ("engine", "grant2025")
CL_TARGETS = ("class-mean", "cl-prompt")
CL_SPACES = ("subspace", "full")


# ---- the intervention -----------------------------------------------------------------------------
def boundary_mask(boundary: torch.Tensor, d: int, temperature: float, offset: float = 0.5) -> torch.Tensor:
    """Soft mask (d,) over rotated dims: σ((i+o)/τ)·σ((b·d − i − o)/τ), b a scalar tensor in (0, 1].

    ``offset`` o = ½ (the engine: dimension centres, exactly round(b·d) dims at τ → 0); o = 0 is pyvene's
    ``sigmoid_boundary`` over the population 0…d−1 (dim 0 stays at ½), which the paper's runs used."""
    i = torch.arange(d, dtype=torch.float32, device=boundary.device) + offset
    return torch.sigmoid(i / temperature) * torch.sigmoid((boundary * d - i) / temperature)


def interchange(base: torch.Tensor, source: torch.Tensor, rotation: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """h̃ = [(1−m)⊙(base R) + m⊙(source R)] Rᵀ; base, source (B, D), rotation (D, D), mask (D,) → (B, D)."""
    rb, rs = base @ rotation, source @ rotation
    return ((1 - mask) * rb + mask * rs) @ rotation.T


def project(h: torch.Tensor, rotation: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """P(h) = [(h R) ⊙ m] Rᵀ: h (B, D) or (D,) kept on the masked rotated dims."""
    return ((h @ rotation) * mask) @ rotation.T


def cl_loss(h_tilde: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean((h̃ − c)²) + mean(1 − cos(h̃, c)); both (B, D), already projected, target detached by the caller."""
    return ((h_tilde - target) ** 2).mean() + (1 - nn.functional.cosine_similarity(h_tilde, target, dim=-1)).mean()


class BoundlessIntervention(nn.Module):
    """Orthogonal rotation (D × D) and a boundary.

    ``style="engine"``: the Cayley map, b = σ(β) with a free logit β, mask over dimension centres.
    ``style="pyvene"``: as pyvene's ``BoundlessRotatedSpaceIntervention`` (the paper's runs): torch's default
    orthogonal map (``matrix_exp``) from an orthogonal init, a raw boundary parameter clamped to [1e-3, 1] in the
    mask (its penalty reads the raw value), mask over the population 0…D−1.
    """

    def __init__(self, d: int, boundary_init: float = 0.5, orthogonal_map: str = "cayley",
                 style: str = "engine") -> None:
        super().__init__()
        if not 0 < boundary_init < 1:
            raise ValueError("the boundary must start strictly between 0 and 1")
        if style not in ("engine", "pyvene"):
            raise ValueError(f"unknown intervention style {style!r}")
        self.d = d
        self.style = style
        layer = nn.Linear(d, d, bias=False)
        if style == "pyvene":
            nn.init.orthogonal_(layer.weight)
        self.rotate = nn.utils.parametrizations.orthogonal(layer, orthogonal_map=orthogonal_map)
        init = boundary_init if style == "pyvene" else math.log(boundary_init / (1 - boundary_init))
        self.boundary_logit = nn.Parameter(torch.tensor(float(init)))  # pyvene: the raw boundary itself

    def rotation(self) -> torch.Tensor:
        """R (D, D); build once per step and pass it on."""
        return self.rotate.weight

    def boundary(self) -> torch.Tensor:
        if self.style == "pyvene":
            return torch.clamp(self.boundary_logit, 1e-3, 1.0)
        return torch.sigmoid(self.boundary_logit)

    def penalty_value(self) -> torch.Tensor:
        """What the boundary penalty multiplies: b (engine), the raw unclamped parameter (pyvene)."""
        return self.boundary_logit if self.style == "pyvene" else self.boundary()

    def mask(self, temperature: float) -> torch.Tensor:
        return boundary_mask(self.boundary(), self.d, temperature, offset=0.0 if self.style == "pyvene" else 0.5)


# ---- configuration --------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundlessConfig:
    """One training run of the intervention (the data are in :class:`DataConfig`)."""

    epsilon: float = 0.0  # CL weight
    seed: int = 0
    steps: int = 400
    batch_size: int = 64
    lr: float = 2e-3  # rotation
    boundary_lr: float = 2e-2  # boundary logit
    boundary_init: float = 0.5
    temperature_start: float = 50.0
    temperature_end: float = 0.1
    boundary_penalty: float = 0.1
    penalty_warmup: float = 0.25  # share of steps over which the penalty ramps from 0 to full
    orthogonal_map: str = "cayley"
    protocol: str = "engine"  # "engine" | "grant2025" (engine.boundless_paper: the paper's training loop)
    cl_target: str = "class-mean"  # "class-mean" | "cl-prompt" (the native state of the pair's CL prompt)
    cl_space: str = "subspace"  # "subspace" (projected on the learned subspace) | "full" (the whole hidden vector)
    epochs: int = 3  # grant2025: passes over the training pairs (``steps`` is the engine's budget)
    grad_accumulation: int = 4  # grant2025
    warmup_share: float = 0.1  # grant2025: linear warm-up share of the scheduler's horizon, then linear decay

    def __post_init__(self) -> None:
        if self.protocol not in BOUNDLESS_PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; choose one of {', '.join(BOUNDLESS_PROTOCOLS)}")
        if self.cl_target not in CL_TARGETS:
            raise ValueError(f"unknown CL target {self.cl_target!r}; choose one of {', '.join(CL_TARGETS)}")
        if self.cl_space not in CL_SPACES:
            raise ValueError(f"unknown CL space {self.cl_space!r}; choose one of {', '.join(CL_SPACES)}")

    @classmethod
    def grant2025(cls, **overrides: Any) -> BoundlessConfig:
        """The paper's training (collect_cl_boundless_das.py): Adam, rotation lr 1e-3, boundary lr 1e-2, linear
        warm-up then decay, batch 32 × 4 accumulation, 3 epochs, temperature 50 → 0.1, penalty 1.0 × b, no
        warm-up; the CL target is the pair's CL prompt, compared on the full hidden vector."""
        paper = dict(protocol="grant2025", batch_size=32, lr=1e-3, boundary_lr=1e-2, boundary_penalty=1.0,
                     penalty_warmup=0.0, orthogonal_map="matrix_exp", cl_target="cl-prompt", cl_space="full",
                     epochs=3, grad_accumulation=4, warmup_share=0.1)
        return cls(**{**paper, **overrides})

    def temperature(self, step: int) -> float:
        frac = step / max(self.steps - 1, 1)
        return self.temperature_start + (self.temperature_end - self.temperature_start) * frac

    def penalty_weight(self, step: int) -> float:
        warm = self.penalty_warmup * self.steps
        return self.boundary_penalty * (min(1.0, step / warm) if warm > 0 else 1.0)

def protocol_settings(protocol: str, cl_target: str | None, cl_space: str | None, steps: int, epochs: int,
                       batch_size: int | None, train_pairs: int | None, test_pairs: int,
                       boundary_penalty: float | None, divergence: str = "emd"):
    """(BoundlessConfig, DataConfig) for a protocol, with what a user gave (not None) over its defaults: the
    engine's 400 steps of 64 on 2,000 balanced pairs, or the paper's 3 epochs of 32 on 8,000 region pairs."""
    given = {k: v for k, v in (("cl_target", cl_target), ("cl_space", cl_space), ("batch_size", batch_size),
                               ("boundary_penalty", boundary_penalty)) if v is not None}
    if protocol == "grant2025":
        base = BoundlessConfig.grant2025(epochs=epochs, **given)
        data = DataConfig(train_pairs=train_pairs or 8000, test_pairs=test_pairs, sampler="regions",
                          divergence_estimator=divergence)
    elif protocol == "engine":
        base = BoundlessConfig(steps=steps, **given)
        data = DataConfig(train_pairs=train_pairs or 2000, test_pairs=test_pairs, divergence_estimator=divergence)
    else:
        raise ValueError(f"unknown protocol {protocol!r}; choose engine or grant2025")
    return base, data

# ---- training and evaluation ----------------------------------------------------------------------
def _intervened_logits(prep: PreparedSite, iv: BoundlessIntervention, split: SplitData, idx: torch.Tensor,
                       rotation: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Answer logits (B, V) of the base runs with h̃ written at the site, and h̃ (B, D) float32."""
    store: dict[str, torch.Tensor] = {}
    src = split.source_states[idx]

    def fn(h_base: torch.Tensor) -> torch.Tensor:
        store["h"] = interchange(h_base.float(), src, rotation, mask)
        return store["h"]

    with replacing(prep.lm.model, prep.site, split.base_index[idx], fn):
        logits = prep.lm.last_logits(slice_inputs(split.base_inputs, idx))
    return logits, store["h"]


@dataclass
class TrainedIntervention:
    intervention: BoundlessIntervention
    config: BoundlessConfig
    seconds: float
    final_ce: float
    final_cl: float
    final_penalty: float
    mean_ce: float = float("nan")  # the task loss averaged over training batches
    mean_cl: float = float("nan")  # the CL loss averaged over training batches (measured even at ε = 0)
    final_temperature: float = 0.1  # the mask's temperature when training ended (evaluation uses it)
    updates: int = 0


def cl_term(prep: PreparedSite, split: SplitData, idx: torch.Tensor, h_tilde: torch.Tensor, rotation: torch.Tensor,
            mask: torch.Tensor, cfg: BoundlessConfig) -> torch.Tensor:
    """L_CL for a batch: the target by ``cfg.cl_target`` (the mean native state of the class whose ``left`` is the
    written value, or the pair's CL-prompt state), compared in ``cfg.cl_space`` (both sides projected onto the
    learned subspace, or the full hidden vectors); the target is detached."""
    target = prep.class_means[split.source_left[idx]] if cfg.cl_target == "class-mean" else split.cl_states[idx]
    if cfg.cl_space == "subspace":
        return cl_loss(project(h_tilde, rotation, mask), project(target, rotation, mask).detach())
    return cl_loss(h_tilde, target.detach())


def train_boundless(prep: PreparedSite, cfg: BoundlessConfig,
                    log: Callable[[str], None] | None = None) -> TrainedIntervention:
    """Fit R and b on the training pairs: CE + λ_t·b (+ ε·L_CL when ε > 0); ``cfg.protocol="grant2025"`` runs the
    paper's loop (:func:`engine.boundless_paper.train_paper`)."""
    if cfg.epsilon < 0:
        raise ValueError("the CL weight ε cannot be negative")
    if cfg.protocol == "grant2025":
        from engine.boundless_paper import train_paper

        return train_paper(prep, cfg, log)
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    d = hidden_size(prep.lm.model)
    iv = BoundlessIntervention(d, cfg.boundary_init, cfg.orthogonal_map).to(prep.lm.device)
    opt = torch.optim.Adam([
        {"params": list(iv.rotate.parameters()), "lr": cfg.lr},
        {"params": [iv.boundary_logit], "lr": cfg.boundary_lr},
    ])
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(prep.train.pairs)
    order = torch.randperm(n, generator=gen)
    cursor = 0
    ce = cl = pen = torch.zeros(())
    sum_ce = sum_cl = 0.0
    for step in range(cfg.steps):
        if cursor + cfg.batch_size > n:
            order, cursor = torch.randperm(n, generator=gen), 0
        idx = order[cursor:cursor + cfg.batch_size].to(prep.lm.device)
        cursor += cfg.batch_size
        rotation = iv.rotation()
        mask = iv.mask(cfg.temperature(step))
        logits, h_tilde = _intervened_logits(prep, iv, prep.train, idx, rotation, mask)
        ce = nn.functional.cross_entropy(logits, prep.train.target_token[idx])
        pen = cfg.penalty_weight(step) * iv.boundary()
        loss = ce + pen
        if cfg.epsilon > 0:
            cl = cl_term(prep, prep.train, idx, h_tilde, rotation, mask, cfg)
            loss = loss + cfg.epsilon * cl
        else:  # measured all the same: ε · L_CL / L_task at ε = 0 puts sweeps of different models on one axis
            with torch.no_grad():
                cl = cl_term(prep, prep.train, idx, h_tilde, rotation, mask, cfg)
        sum_ce += float(ce.detach())
        sum_cl += float(cl.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log and (step + 1) % max(cfg.steps // 4, 1) == 0:
            log(f"    step {step + 1}/{cfg.steps} ce {ce.item():.3f} cl {float(cl.detach()):.3f} "
                f"b {iv.boundary().item():.3f} τ {cfg.temperature(step):.2f}")
    return TrainedIntervention(iv, cfg, round(time.perf_counter() - start, 2), float(ce.detach()), float(cl.detach()),
                              float(pen.detach()), mean_ce=sum_ce / cfg.steps, mean_cl=sum_cl / cfg.steps,
                              final_temperature=cfg.temperature_end, updates=cfg.steps)


@dataclass
class Evaluation:
    iia: float  # yes-vs-no logit gives the counterfactual label (the engine's definition)
    iia_argmax: float  # argmax over the whole vocabulary is the counterfactual answer token (the paper's)
    iia_changed: float
    iia_noop: float
    n: int
    n_changed: int
    boundary: float
    width: float  # b·D
    width_hard: int  # dims with mask > 0.5 at the final temperature
    intervened_states: np.ndarray  # (N, D)


def evaluate(prep: PreparedSite, trained: TrainedIntervention, split: SplitData | None = None,
             batch: int = 250) -> Evaluation:
    """IIA (raw, changed pairs, no-op baseline) with the mask at the final temperature, and h̃ for divergence."""
    split = split or prep.test
    iv = trained.intervention
    said, argmax_hit, states = [], [], []
    with torch.no_grad():
        rotation = iv.rotation()
        mask = iv.mask(trained.final_temperature)
        for i in range(0, len(split.pairs), batch):
            idx = torch.arange(i, min(i + batch, len(split.pairs)), device=prep.lm.device)
            logits, h = _intervened_logits(prep, iv, split, idx, rotation, mask)
            said.append(logits[:, prep.lm.yes_id] > logits[:, prep.lm.no_id])
            argmax_hit.append(logits.argmax(-1) == split.target_token[idx])
            states.append(h.cpu())
    said_yes = torch.cat(said)
    hit = said_yes == split.cf_yes
    changed = split.changed
    d = iv.d
    return Evaluation(
        iia=float(hit.float().mean()), iia_argmax=float(torch.cat(argmax_hit).float().mean()),
        iia_changed=float(hit[changed].float().mean()) if bool(changed.any()) else float("nan"),
        iia_noop=float((split.base_said_yes == split.cf_yes).float().mean()),
        n=len(split.pairs), n_changed=int(changed.sum()), boundary=float(iv.boundary().detach()),
        width=float(iv.boundary().detach()) * d, width_hard=int((mask > 0.5).sum()),
        intervened_states=torch.cat(states).numpy(),
    )


# ---- sweeps and the site search -------------------------------------------------------------------
def primary_measure(prep: PreparedSite, cfg: BoundlessConfig) -> str:
    """The divergence a sweep reports first: the paper's under grant2025, else the engine's configured one."""
    from engine.llm_divergence import PAPER_MEASURE

    return PAPER_MEASURE if cfg.protocol == "grant2025" else prep.reference.measure


def measure_divergences(prep: PreparedSite, ev: Evaluation, seed: int) -> dict[str, dict[str, Any]]:
    """Every Boundless divergence of one evaluation, by measure id: the engine's (intervened vs pooled test
    natives, :class:`engine.llm_divergence.NativeReference`) and the paper's (intervened vs the pairs' CL-prompt
    states, :func:`engine.llm_divergence.paper_llm_divergence`), each with its native-vs-native baseline."""
    from engine.llm_divergence import paper_llm_divergence

    engine = prep.reference.measure_states(ev.intervened_states, seed=seed)
    paper = paper_llm_divergence(ev.intervened_states, prep.test.cl_states.cpu().numpy(),
                                 resamples=prep.data.divergence_resamples, seed=seed)
    return {engine.measure: engine.to_json(), paper.measure: paper.to_json()}


def run_sweep(prep: PreparedSite, epsilons: Sequence[float], seeds: Sequence[int], base: BoundlessConfig,
              divergence: bool = True, log: Callable[[str], None] | None = None):
    """Train and evaluate one intervention per (ε, seed); returns :class:`engine.boundless_results.SweepResult`."""
    from engine.boundless_results import SeedResult, SweepResult, summarize

    start = time.perf_counter()
    rows: list[SeedResult] = []
    primary = primary_measure(prep, base)
    for eps in epsilons:
        for seed in seeds:
            cfg = BoundlessConfig(**{**asdict(base), "epsilon": float(eps), "seed": int(seed)})
            trained = train_boundless(prep, cfg, log=log)
            ev = evaluate(prep, trained)
            divs = measure_divergences(prep, ev, seed) if divergence else {}
            div = divs.get(primary)
            rows.append(SeedResult(
                epsilon=float(eps), seed=int(seed), iia=ev.iia, iia_changed=ev.iia_changed, iia_noop=ev.iia_noop,
                n_test=ev.n, n_changed=ev.n_changed, boundary=ev.boundary, width=ev.width, width_hard=ev.width_hard,
                divergence=div, train_seconds=trained.seconds, final_ce=trained.final_ce, final_cl=trained.final_cl,
                iia_argmax=ev.iia_argmax, mean_ce=trained.mean_ce, mean_cl=trained.mean_cl, updates=trained.updates,
                divergences=divs,
            ))
            if log:
                dtxt = f" div {div['value']:.4f} (base {div['baseline']:.4f})" if div else ""
                log(f"  ε={eps:g} seed={seed}: IIA {ev.iia:.3f} argmax {ev.iia_argmax:.3f} changed "
                    f"{ev.iia_changed:.3f} no-op {ev.iia_noop:.3f} width {ev.width:.1f}{dtxt} [{trained.seconds:.1f}s]")
    base_cfg = {k: v for k, v in asdict(base).items() if k not in ("epsilon", "seed")}
    return SweepResult(
        model=prep.lm.name, prompt=prep.lm.prompt, site=prep.site.name, layer=prep.site.layer,
        position=prep.site.position, epsilons=[float(e) for e in epsilons], seeds=[int(s) for s in seeds],
        training=base_cfg, data=asdict(prep.data), factual_accuracy=prep.factual_accuracy,
        summaries=summarize(rows), runs=rows, wall_seconds=round(time.perf_counter() - start, 2),
        prepare_seconds=prep.prepare_seconds, device=prep.lm.device, divergence_measure=primary,
    )


def search_sites(lm: TaskLM, layers: Sequence[int], positions: Sequence[int], base: BoundlessConfig,
                 data: DataConfig | None = None, log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Boundless DAS at ε = 0, one seed, at every (layer, position): IIA, changed-pair IIA, no-op, width.

    Sorted best first by changed-pair IIA (raw IIA is flattered by pairs that keep the base label).
    """
    data = data or DataConfig(divergence_resamples=1, divergence_n=2)
    out = []
    for layer in layers:
        for position in positions:
            prep = prepare(lm, layer, position, data)
            trained = train_boundless(prep, BoundlessConfig(**{**asdict(base), "epsilon": 0.0}))
            ev = evaluate(prep, trained)
            row = {"site": prep.site.name, "layer": layer, "position": position, "iia": ev.iia,
                   "iia_changed": ev.iia_changed, "iia_noop": ev.iia_noop, "width": ev.width,
                   "width_hard": ev.width_hard, "seconds": trained.seconds}
            out.append(row)
            if log:
                log(f"  layer {layer} pos {position}: IIA {ev.iia:.3f} changed {ev.iia_changed:.3f} "
                    f"no-op {ev.iia_noop:.3f} width {ev.width:.1f}")
    return sorted(out, key=lambda r: (-r["iia_changed"], -r["iia"]))
