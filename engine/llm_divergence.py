"""Divergence between intervened and native LLM hidden states, as in Grant et al. 2025 (arXiv 2511.04638).

For an LLM site the two sets are full hidden-state vectors (dimension d). The measure:

1. draw ``n`` vectors from each set (without replacement);
2. z-score each set per dimension with its own mean and standard deviation;
3. compute the debiased Sinkhorn divergence
   S_ε(X, Y) = OT_ε(X, Y) − ½·OT_ε(X, X) − ½·OT_ε(Y, Y), cost c(a, b) = ½‖a − b‖², ε = 0.0025,
   where OT_ε is the entropic optimal-transport value (the entropic term included);
4. divide by √d;
5. repeat for ``resamples`` draws and report the mean and its SEM.

The *baseline* is the same measure between two disjoint draws of native states: what two native samples
of that size already score. Every number names its estimator (``measure``):

* ``sinkhorn_divergence_zscored_per_sqrt_d`` — estimator ``"sinkhorn"``: S_ε with
  :func:`engine.metrics.entropic_ot`, the engine's one converged Sinkhorn solver (shared with the synthetic
  task; L2 marginal error < 1e-8 or it raises);
* ``exact_emd_zscored_per_sqrt_d`` — estimator ``"emd"``: the exact OT cost with the same cost
  (``ot.emd2``), the ε → 0 limit of S_ε.

Why the sweep default is ``"emd"`` (measured on the tiny model's states at gpt2.h.1.out@pos15, n = 256,
d = 64): the states are tightly clustered, so at ε = 0.0025 the converged Sinkhorn solve took 124 s per
OT problem on one loaded core (a sweep needs ~10 per run), while ``ot.emd2`` took 5 ms; and the two agree:
converged OT_ε = 3.0894 against exact EMD 3.0758, and S_ε lies within [OT_ε − ε·log n, OT_ε] (the self-terms
are at most ε·log n = 0.014), i.e. within 0.5 % of the exact EMD. ``bench/boundless_sweep.py
--sinkhorn-check`` measured the full debiased S_ε / √d against exact EMD / √d on one draw each: native vs
native 0.5004 vs 0.5004, intervened at ε = 0 2.4565 vs 2.4565, at ε = 64 0.2469 vs 0.2469 (all within
0.01 %; 85–166 s per S_ε). A log-domain Sinkhorn with ε-scaling and a few hundred updates was 18 % low on
the same problem, so no truncated solver is offered. The exact EMD is always computed beside S_ε.

The native draws (and, for ``"sinkhorn"``, their self-terms OT_ε(A, A)) and the baseline are computed once
per site (:class:`NativeReference`) and reused for every intervened set.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from graph.stats import summarize

SINKHORN_EPS = 0.0025
MEASURES = {"sinkhorn": "sinkhorn_divergence_zscored_per_sqrt_d", "emd": "exact_emd_zscored_per_sqrt_d"}
MEASURE = MEASURES["sinkhorn"]
ESTIMATORS = tuple(MEASURES)


@dataclass
class DivergenceEstimate:
    """Mean ± SEM over resamples of the divergence / √d (intervened vs native) and the native baseline."""

    measure: str
    estimator: str  # "sinkhorn" | "emd"
    value: float
    sem: float | None  # None for one resample (graph.stats)
    baseline: float
    baseline_sem: float | None
    emd: float  # exact EMD / √d, always computed
    baseline_emd: float
    d: int
    n: int
    resamples: int
    epsilon: float | None  # Sinkhorn ε; None for the exact EMD
    values: list[float] = field(default_factory=list)
    baseline_values: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def zscore(x: np.ndarray) -> np.ndarray:
    """Per-dimension z-score (N, d) → (N, d); constant dimensions become 0."""
    mu = x.mean(0, keepdims=True)
    sd = x.std(0, keepdims=True)
    return (x - mu) / np.where(sd > 1e-8, sd, 1.0)


def entropic_ot(x: np.ndarray, y: np.ndarray, eps: float = SINKHORN_EPS) -> float:
    """OT_ε(x, y), uniform weights, cost ½‖a−b‖² (:func:`engine.metrics.entropic_ot`, converged)."""
    from engine.metrics import entropic_ot as solve

    return solve(x, y, eps)


def sinkhorn_divergence(x: np.ndarray, y: np.ndarray, eps: float = SINKHORN_EPS) -> float:
    """Debiased S_ε(x, y) = OT_ε(x, y) − ½OT_ε(x, x) − ½OT_ε(y, y); x (n, d), y (m, d)."""
    return entropic_ot(x, y, eps) - 0.5 * entropic_ot(x, x, eps) - 0.5 * entropic_ot(y, y, eps)


def exact_emd(x: np.ndarray, y: np.ndarray) -> float:
    """Exact OT cost, cost ½‖a−b‖², uniform weights (:func:`engine.metrics.exact_emd`: ``ot.emd2``, no early stop)."""
    from engine.metrics import exact_emd as emd

    return emd(x, y)


class NativeReference:
    """Native draws prepared once per site and reused for every intervened set measured against them.

    ``resamples`` pairs of disjoint native draws (A_k, B_k) of ``n`` vectors each, z-scored; the baseline
    divergence(B_k, A_k) / √d is computed here (and OT_ε(A_k, A_k) once, for ``"sinkhorn"``).
    States (M, d) with M ≥ 2n (``n`` shrinks to fit).
    """

    def __init__(self, native: np.ndarray, n: int = 256, resamples: int = 5, seed: int = 0,
                 estimator: str = "emd", eps: float = SINKHORN_EPS) -> None:
        if estimator not in MEASURES:
            raise ValueError(f"unknown divergence estimator {estimator!r}; use one of {', '.join(MEASURES)}")
        native = np.asarray(native, dtype=np.float64)
        if native.ndim != 2:
            raise ValueError("native states must be an (M, d) array")
        self.n = min(n, len(native) // 2)
        if self.n < 2:
            raise ValueError("too few native states to measure a divergence")
        self.d = native.shape[1]
        self.estimator, self.eps, self.resamples = estimator, eps, resamples
        rng = np.random.default_rng(seed)
        self.draws: list[np.ndarray] = []
        self.self_ot: list[float | None] = []
        self.baseline_values: list[float] = []
        self.baseline_emds: list[float] = []
        root = math.sqrt(self.d)
        for _ in range(resamples):
            perm = rng.permutation(len(native))
            a, b = zscore(native[perm[:self.n]]), zscore(native[perm[self.n:2 * self.n]])
            self.draws.append(a)
            emd = exact_emd(b, a) / root
            self.baseline_emds.append(emd)
            if estimator == "sinkhorn":
                aa = entropic_ot(a, a, eps)
                self.self_ot.append(aa)
                self.baseline_values.append((entropic_ot(b, a, eps) - 0.5 * aa - 0.5 * entropic_ot(b, b, eps)) / root)
            else:
                self.self_ot.append(None)
                self.baseline_values.append(emd)

    @property
    def measure(self) -> str:
        return MEASURES[self.estimator]

    def measure_states(self, intervened: np.ndarray, seed: int = 0) -> DivergenceEstimate:
        """Divergence / √d of intervened states (N, d) from the native draws; one intervened draw per resample."""
        x = np.asarray(intervened, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"intervened states must be an (N, {self.d}) array")
        n = min(self.n, len(x))
        rng = np.random.default_rng(seed)
        root = math.sqrt(self.d)
        vals, emds = [], []
        for a, aa in zip(self.draws, self.self_ot):
            xi = zscore(x[rng.choice(len(x), n, replace=False)])
            emd = exact_emd(xi, a) / root
            emds.append(emd)
            if self.estimator == "sinkhorn":
                vals.append((entropic_ot(xi, a, self.eps) - 0.5 * entropic_ot(xi, xi, self.eps) - 0.5 * aa) / root)
            else:
                vals.append(emd)
        return DivergenceEstimate(
            measure=self.measure, estimator=self.estimator, value=float(np.mean(vals)), sem=summarize(vals).sem,
            baseline=float(np.mean(self.baseline_values)), baseline_sem=summarize(self.baseline_values).sem,
            emd=float(np.mean(emds)), baseline_emd=float(np.mean(self.baseline_emds)), d=self.d, n=n,
            resamples=self.resamples, epsilon=self.eps if self.estimator == "sinkhorn" else None,
            values=[float(v) for v in vals], baseline_values=[float(b) for b in self.baseline_values],
        )


def llm_divergence(intervened: np.ndarray, native: np.ndarray, n: int = 256, resamples: int = 5, seed: int = 0,
                   estimator: str = "sinkhorn", eps: float = SINKHORN_EPS) -> DivergenceEstimate:
    """One-shot divergence / √d between intervened (N, d) and native (M, d) states, with the native baseline."""
    ref = NativeReference(native, n=n, resamples=resamples, seed=seed, estimator=estimator, eps=eps)
    return ref.measure_states(intervened, seed=seed + 1)


PAPER_MEASURE = "grant2025_geomloss_zscored_per_sqrt_d"


def paper_zscore(x: np.ndarray) -> np.ndarray:
    """The paper's z-score (``sample_emd``): (x − mean) / (std + 1e-5), std with ddof = 1, per dimension."""
    return (x - x.mean(0)) / (x.std(0, ddof=1) + 1e-5)


def paper_llm_divergence(intervened: np.ndarray, cl_states: np.ndarray, resamples: int = 5,
                         seed: int = 0) -> DivergenceEstimate:
    """The paper's Boundless divergence (``collect_divergences`` in grantsrb/rep_divergence), per resample:

    the test pairs are split in random halves; one half's CL-prompt native states and the *other* half's
    intervened states, each permuted and z-scored on its own (:func:`paper_zscore`), are compared with geomloss
    ``SamplesLoss("sinkhorn", p=2, blur=0.05)`` (:func:`engine.paper_estimator.paper_divergence`), ÷ √D; the
    baseline compares the first half's native states with the second half's. ``intervened`` and ``cl_states``
    (N, D) are row-aligned (pair i's intervened state and its CL prompt's native state). Mean ± SEM over
    ``resamples``; the exact EMD (``ot.emd2``) of the same z-scored draws is reported beside it.
    """
    from engine.paper_estimator import paper_divergence

    x = np.asarray(intervened, dtype=np.float64)
    c = np.asarray(cl_states, dtype=np.float64)
    if x.shape != c.shape or x.ndim != 2 or len(x) < 4:
        raise ValueError("intervened and CL-prompt states must be row-aligned (N, d) arrays with N ≥ 4")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2025]))
    n, d = x.shape
    half, root = n // 2, math.sqrt(d)
    vals, base, emds, base_emds = [], [], [], []
    for _ in range(resamples):
        first, second = rng.permutation(n), rng.permutation(n)
        nat, intr, nat2 = c[first[:half]], x[second[half:2 * half]], c[second[:half]]
        for a, b, out, out_emd in ((nat, intr, vals, emds), (nat, nat2, base, base_emds)):
            za, zb = paper_zscore(a[rng.permutation(len(a))]), paper_zscore(b[rng.permutation(len(b))])
            out.append(paper_divergence(za, zb) / root)
            out_emd.append(exact_emd(za, zb) / root)
    return DivergenceEstimate(
        measure=PAPER_MEASURE, estimator="geomloss", value=float(np.mean(vals)), sem=summarize(vals).sem,
        baseline=float(np.mean(base)), baseline_sem=summarize(base).sem, emd=float(np.mean(emds)),
        baseline_emd=float(np.mean(base_emds)), d=d, n=half, resamples=resamples, epsilon=None,
        values=[float(v) for v in vals], baseline_values=[float(b) for b in base])
