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
produces natively. Its target c is built from *native runs whose boundary variable takes the
counterfactual value*: c = the mean native site state over the training prompts (bases and sources, the
model unintervened) whose ``left`` equals the value the intervention writes, i.e. ``left(source)``. So the
target's value always matches the intervention's counterfactual value. Both h̃ and c are projected onto
the variable's subspace with the same mask, P(x) = [(x R) ⊙ m] Rᵀ, c detached, and
L_CL = mean((P h̃ − P c)²) + mean(1 − cos(P h̃, P c)).

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

import inspect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.hooks import capture, replacing, token_index
from engine.llm_divergence import NativeReference
from engine.pricetag import CounterfactualPair, PriceTag, sample_pairs
from engine.sites import Site, hidden_size, site_for


# ---- the intervention -----------------------------------------------------------------------------
def boundary_mask(boundary: torch.Tensor, d: int, temperature: float) -> torch.Tensor:
    """Soft mask (d,) over rotated dims: σ((i+½)/τ)·σ((b·d − i − ½)/τ), b a scalar tensor in (0, 1)."""
    i = torch.arange(d, dtype=torch.float32, device=boundary.device) + 0.5
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
    """Orthogonal rotation (D × D, Cayley map) and a boundary b = σ(β)."""

    def __init__(self, d: int, boundary_init: float = 0.5, orthogonal_map: str = "cayley") -> None:
        super().__init__()
        if not 0 < boundary_init < 1:
            raise ValueError("the boundary must start strictly between 0 and 1")
        self.d = d
        self.rotate = nn.utils.parametrizations.orthogonal(nn.Linear(d, d, bias=False), orthogonal_map=orthogonal_map)
        self.boundary_logit = nn.Parameter(torch.tensor(math.log(boundary_init / (1 - boundary_init))))

    def rotation(self) -> torch.Tensor:
        """R (D, D); build once per step and pass it on."""
        return self.rotate.weight

    def boundary(self) -> torch.Tensor:
        return torch.sigmoid(self.boundary_logit)

    def mask(self, temperature: float) -> torch.Tensor:
        return boundary_mask(self.boundary(), self.d, temperature)


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

    def temperature(self, step: int) -> float:
        frac = step / max(self.steps - 1, 1)
        return self.temperature_start + (self.temperature_end - self.temperature_start) * frac

    def penalty_weight(self, step: int) -> float:
        warm = self.penalty_warmup * self.steps
        return self.boundary_penalty * (min(1.0, step / warm) if warm > 0 else 1.0)


@dataclass(frozen=True)
class DataConfig:
    train_pairs: int = 2000
    test_pairs: int = 1000
    data_seed: int = 0  # pairs are the same for every training seed and ε
    divergence_n: int = 256
    divergence_resamples: int = 5
    divergence_estimator: str = "emd"  # engine.llm_divergence: "emd" (exact, ε→0 limit) or "sinkhorn" (S_ε)
    batch_size: int = 250  # for the frozen forward passes that collect native states


# ---- the model and its task encoding ----------------------------------------------------------------
@dataclass
class TaskLM:
    """A causal LM with the Price Tagging encoding it reads and its yes/no answer tokens."""

    model: Any
    name: str
    encode: Callable[[Sequence[PriceTag]], dict[str, torch.Tensor]]
    yes_id: int
    no_id: int
    device: str = "cpu"
    prompt: str = "compact"  # "compact" | "alpaca"

    def __post_init__(self) -> None:
        self._keep = "logits_to_keep" in inspect.signature(self.model.forward).parameters

    def last_logits(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Answer logits (B, V) at the last position, float32."""
        extra = {"logits_to_keep": 1} if self._keep else {}
        return self.model(**inputs, **extra).logits[:, -1].float()


def tiny_task_lm(model: Any, name: str = "tiny-pricetag", device: str = "cpu") -> TaskLM:
    from engine.pricetag import CompactTokenizer

    tok = CompactTokenizer()
    return TaskLM(model=model.to(device), name=name, encode=tok.batch, yes_id=tok.yes_id, no_id=tok.no_id,
                  device=device, prompt="compact")


def hf_task_lm(path: str, device: str = "cpu", dtype: str = "float32",
               answers: tuple[str, str] = ("Yes", "No")) -> TaskLM:
    """A local Hugging Face causal LM directory (never downloads), frozen, with the Alpaca prompt.

    This is the path for real LLMs, e.g. a local Alpaca/Llama-7B directory with ``device="cuda"`` and
    ``dtype="bfloat16"`` (the paper's site is layer 15, position −2). Model and tokenizer are read with
    ``local_files_only=True``; the intervention's parameters stay float32 and states are cast around it.
    """
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.pricetag import answer_token_ids, encode_with_hf_tokenizer

    if not Path(path).is_dir():
        raise ValueError(f"{path} is not a local model directory (nothing is downloaded)")
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise ValueError(f"unknown dtype {dtype!r}; use float32 or bfloat16")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    import transformers

    # transformers ≥ 4.56 names the argument ``dtype``; older releases ``torch_dtype``
    key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 or \
        tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56) else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, **{key: torch_dtype}).to(device)
    model.eval()
    model.requires_grad_(False)
    yes_id, no_id = answer_token_ids(tokenizer, answers)
    return TaskLM(model=model, name=str(path), encode=lambda exs: encode_with_hf_tokenizer(tokenizer, exs),
                  yes_id=yes_id, no_id=no_id, device=device, prompt="alpaca")


# ---- prepared data at one site --------------------------------------------------------------------
def _slice(inputs: dict[str, torch.Tensor], idx: torch.Tensor | slice) -> dict[str, torch.Tensor]:
    return {k: v[idx] for k, v in inputs.items()}


@dataclass
class SplitData:
    pairs: list[CounterfactualPair]
    base_inputs: dict[str, torch.Tensor]  # (N, T) each, on the device
    base_index: torch.Tensor  # (N,) token index of the site in each base row
    base_states: torch.Tensor  # (N, D) float32 native states of the bases at the site
    source_states: torch.Tensor  # (N, D) float32 native states of the sources at the site
    source_left: torch.Tensor  # (N,) long, left(source): the value the intervention writes
    target_token: torch.Tensor  # (N,) long, counterfactual answer token id
    cf_yes: torch.Tensor  # (N,) bool, counterfactual label
    base_said_yes: torch.Tensor  # (N,) bool, the unintervened model's answer on the base
    base_yes: torch.Tensor  # (N,) bool, the base's true label
    changed: torch.Tensor  # (N,) bool, counterfactual label differs from the base's true label


@dataclass
class PreparedSite:
    lm: TaskLM
    site: Site
    data: DataConfig
    train: SplitData
    test: SplitData
    class_means: torch.Tensor  # (2, D) native means by left value (row 0: a < l, row 1: a ≥ l)
    reference: NativeReference
    factual_accuracy: float  # on the test bases and sources
    prepare_seconds: float


def _native(lm: TaskLM, site: Site, examples: Sequence[PriceTag], batch: int):
    """(inputs, site index, states (N, D) float32, model said yes (N,) bool) for factual prompts."""
    inputs = {k: v.to(lm.device) for k, v in lm.encode(examples).items()}
    index = token_index(site.position, inputs["attention_mask"])
    states, said = [], []
    with torch.no_grad():
        for i in range(0, len(examples), batch):
            part = _slice(inputs, slice(i, i + batch))
            states.append(capture(lm.model, site, part, index[i:i + batch], stop=True).float())
            logits = lm.last_logits(part)
            said.append(logits[:, lm.yes_id] > logits[:, lm.no_id])
    return inputs, index, torch.cat(states), torch.cat(said)


def _split(lm: TaskLM, site: Site, pairs: list[CounterfactualPair], batch: int) -> tuple[SplitData, torch.Tensor]:
    bases = [p.base for p in pairs]
    sources = [p.source for p in pairs]
    b_in, b_idx, b_states, b_said = _native(lm, site, bases, batch)
    _, _, s_states, s_said = _native(lm, site, sources, batch)
    dev = lm.device
    cf = torch.tensor([p.label for p in pairs], device=dev)
    base_yes = torch.tensor([p.base.label for p in pairs], device=dev)
    split = SplitData(
        pairs=pairs, base_inputs=b_in, base_index=b_idx, base_states=b_states, source_states=s_states,
        source_left=torch.tensor([int(p.source.left) for p in pairs], device=dev),
        target_token=torch.where(cf, lm.yes_id, lm.no_id).long(), cf_yes=cf, base_said_yes=b_said,
        base_yes=base_yes, changed=cf != base_yes,
    )
    source_yes = torch.tensor([p.source.label for p in pairs], device=dev)
    correct = torch.cat([b_said == base_yes, s_said == source_yes])
    return split, correct


def prepare(lm: TaskLM, layer: int, position: int, data: DataConfig | None = None) -> PreparedSite:
    """Sample the pairs, collect native site states once (frozen model) and the native reference draws."""
    data = data or DataConfig()
    start = time.perf_counter()
    site = site_for(lm.model, layer, position)
    train, _ = _split(lm, site, sample_pairs(data.train_pairs, data.data_seed), data.batch_size)
    test, correct = _split(lm, site, sample_pairs(data.test_pairs, data.data_seed + 1), data.batch_size)
    pool = torch.cat([train.base_states, train.source_states])
    left = torch.tensor([int(p.base.left) for p in train.pairs] + [int(p.source.left) for p in train.pairs],
                        device=pool.device)
    if not bool((left == 0).any()) or not bool((left == 1).any()):
        raise ValueError("the training prompts hold only one value of the left-boundary variable")
    means = torch.stack([pool[left == 0].mean(0), pool[left == 1].mean(0)])
    native_test = torch.cat([test.base_states, test.source_states]).cpu().numpy()
    reference = NativeReference(native_test, n=data.divergence_n, resamples=data.divergence_resamples,
                                seed=data.data_seed, estimator=data.divergence_estimator)
    return PreparedSite(lm=lm, site=site, data=data, train=train, test=test, class_means=means, reference=reference,
                        factual_accuracy=float(correct.float().mean()),
                        prepare_seconds=round(time.perf_counter() - start, 2))


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
        logits = prep.lm.last_logits(_slice(split.base_inputs, idx))
    return logits, store["h"]


@dataclass
class TrainedIntervention:
    intervention: BoundlessIntervention
    config: BoundlessConfig
    seconds: float
    final_ce: float
    final_cl: float
    final_penalty: float


def train_boundless(prep: PreparedSite, cfg: BoundlessConfig,
                    log: Callable[[str], None] | None = None) -> TrainedIntervention:
    """Fit R and b on the training pairs: CE + λ_t·b (+ ε·L_CL when ε > 0)."""
    if cfg.epsilon < 0:
        raise ValueError("the CL weight ε cannot be negative")
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
            target = prep.class_means[prep.train.source_left[idx]]
            cl = cl_loss(project(h_tilde, rotation, mask), project(target, rotation, mask).detach())
            loss = loss + cfg.epsilon * cl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log and (step + 1) % max(cfg.steps // 4, 1) == 0:
            log(f"    step {step + 1}/{cfg.steps} ce {ce.item():.3f} cl {float(cl.detach()):.3f} "
                f"b {iv.boundary().item():.3f} τ {cfg.temperature(step):.2f}")
    return TrainedIntervention(iv, cfg, round(time.perf_counter() - start, 2), float(ce.detach()), float(cl.detach()),
                              float(pen.detach()))


@dataclass
class Evaluation:
    iia: float
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
    iv, cfg = trained.intervention, trained.config
    said, states = [], []
    with torch.no_grad():
        rotation = iv.rotation()
        mask = iv.mask(cfg.temperature_end)
        for i in range(0, len(split.pairs), batch):
            idx = torch.arange(i, min(i + batch, len(split.pairs)), device=prep.lm.device)
            logits, h = _intervened_logits(prep, iv, split, idx, rotation, mask)
            said.append(logits[:, prep.lm.yes_id] > logits[:, prep.lm.no_id])
            states.append(h.cpu())
    said_yes = torch.cat(said)
    hit = said_yes == split.cf_yes
    changed = split.changed
    d = iv.d
    return Evaluation(
        iia=float(hit.float().mean()),
        iia_changed=float(hit[changed].float().mean()) if bool(changed.any()) else float("nan"),
        iia_noop=float((split.base_said_yes == split.cf_yes).float().mean()),
        n=len(split.pairs), n_changed=int(changed.sum()), boundary=float(iv.boundary().detach()),
        width=float(iv.boundary().detach()) * d, width_hard=int((mask > 0.5).sum()),
        intervened_states=torch.cat(states).numpy(),
    )


# ---- sweeps and the site search -------------------------------------------------------------------
def run_sweep(prep: PreparedSite, epsilons: Sequence[float], seeds: Sequence[int], base: BoundlessConfig,
              divergence: bool = True, log: Callable[[str], None] | None = None):
    """Train and evaluate one intervention per (ε, seed); returns :class:`engine.boundless_results.SweepResult`."""
    from engine.boundless_results import SeedResult, SweepResult, summarize

    start = time.perf_counter()
    rows: list[SeedResult] = []
    for eps in epsilons:
        for seed in seeds:
            cfg = BoundlessConfig(**{**asdict(base), "epsilon": float(eps), "seed": int(seed)})
            trained = train_boundless(prep, cfg, log=log)
            ev = evaluate(prep, trained)
            div = prep.reference.measure_states(ev.intervened_states, seed=seed) if divergence else None
            rows.append(SeedResult(
                epsilon=float(eps), seed=int(seed), iia=ev.iia, iia_changed=ev.iia_changed, iia_noop=ev.iia_noop,
                n_test=ev.n, n_changed=ev.n_changed, boundary=ev.boundary, width=ev.width, width_hard=ev.width_hard,
                divergence=div.to_json() if div else None, train_seconds=trained.seconds,
                final_ce=trained.final_ce, final_cl=trained.final_cl,
            ))
            if log:
                dtxt = f" div {div.value:.4f} (base {div.baseline:.4f})" if div else ""
                log(f"  ε={eps:g} seed={seed}: IIA {ev.iia:.3f} changed {ev.iia_changed:.3f} "
                    f"no-op {ev.iia_noop:.3f} width {ev.width:.1f}{dtxt} [{trained.seconds:.1f}s]")
    base_cfg = {k: v for k, v in asdict(base).items() if k not in ("epsilon", "seed")}
    return SweepResult(
        model=prep.lm.name, prompt=prep.lm.prompt, site=prep.site.name, layer=prep.site.layer,
        position=prep.site.position, epsilons=[float(e) for e in epsilons], seeds=[int(s) for s in seeds],
        training=base_cfg, data=asdict(prep.data), factual_accuracy=prep.factual_accuracy,
        summaries=summarize(rows), runs=rows, wall_seconds=round(time.perf_counter() - start, 2),
        prepare_seconds=prep.prepare_seconds, device=prep.lm.device, divergence_measure=prep.reference.measure,
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
