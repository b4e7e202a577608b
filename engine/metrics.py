"""Metrics for alignment maps: interchange-intervention accuracy and representation divergence.

Both follow Grant, Han, Tartaglini & Potts, "Addressing divergent representations from causal
interventions on neural networks" (arXiv 2511.04638).

**IIA** (interchange-intervention accuracy) is the share of interventions after which the frozen model
predicts the counterfactual class: ``mean(argmax logits == target)``.

**Divergence.** An intervention can reach the right output while moving the hidden vector somewhere native
vectors never go. The paper measures how far the *set* of intervened vectors lies from the set of native
vectors with an optimal-transport divergence, restricted to the causal coordinates of the original basis.
Its "EMD along feature dimensions" is the **debiased Sinkhorn divergence**

    S_ε(X, Y) = OT_ε(X, Y) − ½·OT_ε(X, X) − ½·OT_ε(Y, Y),

    OT_ε(X, Y) = min_{π ∈ Π(a, b)} ⟨π, C⟩ + ε·KL(π ‖ a⊗b),   C_ij = ½‖x_i − y_j‖²,   ε = 0.05² = 0.0025,

with uniform weights a, b. ``OT_ε`` here is the *entropic value*, entropic term included (POT's
``sinkhorn2`` returns only ⟨π, C⟩, and its ``empirical_sinkhorn_divergence`` uses ‖a−b‖², twice this cost;
neither is used). Debiasing makes S_ε(X, X) = 0 and S_ε ≥ 0.

Solver (:func:`entropic_ot`). At ε = 0.0025 on clustered data plain Sinkhorn is extremely slow: moving mass
between clusters whose sample shares differ needs thousands of updates (measured: ~50,000 log-domain updates,
with ε-scaling, to bring n = 256 to a 1e-5 marginal error). So the solve has two steps, both log-domain in
float64:

1. maximise the smooth, concave *semi-dual* ``g ↦ ⟨b, g⟩ + ⟨a, g^{c,ε}⟩`` (with the soft c-transform
   ``g^{c,ε}_i = −ε·log Σ_j b_j exp((g_j − C_ij)/ε)``) by L-BFGS (SciPy); ~300 evaluations reach a 1e-7
   marginal error on the same problem;
2. hand the potentials to POT's log-domain Sinkhorn (``ot.bregman.sinkhorn_log`` with ``warmstart``) and
   iterate until the L2 marginal violation is below ``tol``·‖b‖₂ (default tol 1e-5); if POT has not got
   there within 5,000 updates, L-BFGS restarts from its last potentials with a fresh memory (up to 3
   rounds); a solve that still
   does not converge raises :class:`ConvergenceError` instead of warning. The value is computed from POT's plan: ⟨π, C⟩ + ε·KL(π ‖ a⊗b).

**Exact EMD** (:func:`exact_emd`) is the unregularised OT cost with the same cost ½‖a−b‖² (``ot.emd2``, the
ε → 0 limit of OT_ε), with ``numItermax = 1e9`` and POT's warnings turned into errors: with the default
``numItermax`` it stops early for n ≥ 2000 and returns a wrong value with only a warning.

Every reported number names its measure, a definition registered in :mod:`graph.measures`
(:func:`measure_divergences` computes all of them for one evaluated set, each with its floor). When a set is
larger than a measure's ``max_points`` it is subsampled deterministically (a fixed-seed permutation, see
:func:`subsample`) and the result says how many points were used.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

SINKHORN_EPS = 0.0025
SINKHORN_TOL = 1e-5  # L2 marginal violation relative to ‖b‖₂
SINKHORN_MAX_POINTS = 500
EMD_MAX_POINTS = 4000
REFERENCES = ("matched", "task")


class ConvergenceError(RuntimeError):
    """An optimal-transport solve did not reach its tolerance."""


def iia(logits, targets) -> float:
    """Interchange-intervention accuracy. logits (n, classes), targets (n,) → share of argmax == target."""
    if len(targets) == 0:
        raise ValueError("IIA of an empty intervention set is undefined.")
    return float((logits.argmax(-1) == targets).float().mean())


def subsample(x: np.ndarray, max_points: int | None, seed: int = 0) -> np.ndarray:
    """Rows of x (n, d), or ``max_points`` of them chosen by a fixed-seed permutation (order kept)."""
    if max_points is None or len(x) <= max_points:
        return x
    idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:max_points])
    return x[idx]


def cost_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """C_ij = ½‖x_i − y_j‖². x (n, d), y (m, d) → (n, m) float64."""
    import ot

    return 0.5 * ot.dist(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), metric="sqeuclidean")


def _semi_dual_potentials(cost: np.ndarray, eps: float, g0: np.ndarray | None = None,
                          gtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Maximise the entropic semi-dual by L-BFGS from g0 (default 0); returns potentials (f (n,), g (m,))."""
    import scipy.optimize
    import torch

    c = torch.as_tensor(cost, dtype=torch.float64)
    n, m = c.shape
    a = torch.full((n,), 1.0 / n, dtype=torch.float64)
    b = torch.full((m,), 1.0 / m, dtype=torch.float64)
    logb = b.log()
    b_np = b.numpy()

    def negative_semi_dual(g_np: np.ndarray) -> tuple[float, np.ndarray]:
        g = torch.from_numpy(g_np)
        z = (g[None, :] - c) * (1.0 / eps)  # (n, m) log-kernel, in place below to save allocations
        z += logb[None, :]
        z_max = z.max(dim=1, keepdim=True).values
        z -= z_max
        z.exp_()
        row_sum = z.sum(dim=1)
        f = -eps * (row_sum.log() + z_max[:, 0])  # soft c-transform of g
        col = (a / row_sum) @ z  # column marginal of the implied plan
        value = float(a @ f) + float(b_np @ g_np)
        return -value, -(b - col).numpy()

    start = np.zeros(m) if g0 is None else g0 - g0.mean()
    res = scipy.optimize.minimize(negative_semi_dual, start, jac=True, method="L-BFGS-B",
                                  options={"maxiter": 20000, "maxcor": 50, "gtol": gtol, "ftol": 1e-16})
    g = torch.from_numpy(res.x)
    f = -eps * torch.logsumexp(logb[None, :] + (g[None, :] - c) / eps, dim=1)
    return f.numpy(), res.x


def entropic_ot(x: np.ndarray, y: np.ndarray, eps: float = SINKHORN_EPS, tol: float = SINKHORN_TOL,
                rounds: int = 3, sinkhorn_iter: int = 5000) -> float:
    """OT_ε(x, y): entropic OT value (entropic term included), uniform weights, cost ½‖a−b‖².

    x (n, d), y (m, d). Converged to an L2 marginal violation < ``tol``·‖b‖₂; raises
    :class:`ConvergenceError` otherwise. See the module docstring for the solver.
    """
    import ot

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) == 0 or len(y) == 0:
        raise ValueError("Optimal transport needs two non-empty point sets.")
    cost = cost_matrix(x, y)
    n, m = cost.shape
    a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    stop = tol * float(np.linalg.norm(b))
    g = None
    log = None
    for _ in range(rounds):
        f, g = _semi_dual_potentials(cost, eps, g0=g)
        warm = (np.log(a) + f / eps, np.log(b) + g / eps)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            # POT also exponentiates log u, log v for its log dict; those overflow harmlessly (unused here).
            warnings.filterwarnings("ignore", message="overflow encountered in exp", category=RuntimeWarning)
            try:
                _, log = ot.bregman.sinkhorn_log(a, b, cost, eps, numItermax=sinkhorn_iter, stopThr=stop,
                                                 log=True, warmstart=warm)
                break
            except UserWarning:
                pass  # not there yet: restart L-BFGS (fresh memory) from its last potentials
        log = None
    if log is None:
        raise ConvergenceError(f"entropic OT did not reach a marginal error of {tol:g}·‖b‖₂ in {rounds} rounds.")
    log_plan = -cost / eps + log["log_u"][:, None] + log["log_v"][None, :]
    plan = np.exp(log_plan)
    kl = float(np.sum(plan * (log_plan - np.log(a)[:, None] - np.log(b)[None, :])))
    return float(np.sum(plan * cost)) + eps * kl


def sinkhorn_divergence(x: np.ndarray, y: np.ndarray, eps: float = SINKHORN_EPS,
                        y_self: float | None = None) -> float:
    """Debiased S_ε(x, y) = OT_ε(x, y) − ½OT_ε(x, x) − ½OT_ε(y, y). x (n, d), y (m, d) → float ≥ 0.

    ``y_self`` may pass a precomputed OT_ε(y, y) (the native set is often fixed).
    """
    yy = entropic_ot(y, y, eps) if y_self is None else y_self
    return entropic_ot(x, y, eps) - 0.5 * entropic_ot(x, x, eps) - 0.5 * yy


def exact_emd(x: np.ndarray, y: np.ndarray) -> float:
    """Exact OT cost, uniform weights, cost ½‖a−b‖². x (n, d), y (m, d). Raises on any POT warning."""
    import ot

    cost = cost_matrix(x, y)
    n, m = cost.shape
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            value = ot.emd2(np.full(n, 1.0 / n), np.full(m, 1.0 / m), cost, numItermax=int(1e9))
        except UserWarning as exc:
            raise ConvergenceError(f"exact EMD did not solve: {exc}") from exc
    return float(value)


@dataclass
class PointSets:
    """What the divergence measures of one evaluated intervention set compare, on the causal coordinates.

    All (n, 2) float arrays, one row per intervention, except ``task_natives`` (m, 2):
    ``intervened`` the intervened vectors; ``paper_natives`` one native vector per intervention drawn from the
    evaluated task with the target's x and a random y (the paper's native set); ``matched``, ``matched2`` two
    independent native draws of each intervention's counterfactual class (``matched2`` is also what a
    perfect map would output: every floor uses it); ``task_natives`` the task's native vectors.
    """

    intervened: np.ndarray
    paper_natives: np.ndarray
    matched: np.ndarray
    matched2: np.ndarray
    task_natives: np.ndarray


def measure_divergences(sets: PointSets, reference: str = "matched", subsample_seed: int = 0,
                        sinkhorn_max_points: int | None = SINKHORN_MAX_POINTS,
                        emd_max_points: int | None = EMD_MAX_POINTS) -> dict[str, dict[str, Any]]:
    """Every registered synthetic divergence of one evaluated set, each with its floor on the same data.

    Returns ``{measure id: {"value", "floor", "n_points": [intervened, native]}}`` for the paper's measure
    (:data:`graph.measures.GRANT2025_SINKHORN`, all points) and the engine's converged Sinkhorn divergence
    and exact EMD against ``reference`` natives ("matched": the class-matched draws, subsampled with the pairs
    kept together; "task": the task's natives, subsampled independently). The floor is the same estimator
    with the intervened set replaced by ``matched2`` (a perfect intervention), same points.
    """
    from engine.paper_estimator import paper_divergence
    from graph.measures import GRANT2025_SINKHORN

    if reference not in REFERENCES:
        raise ValueError(f"Unknown reference {reference!r}; choose one of {', '.join(REFERENCES)}.")
    n = len(sets.intervened)
    out: dict[str, dict[str, Any]] = {GRANT2025_SINKHORN: {
        "value": paper_divergence(sets.intervened, sets.paper_natives),
        "floor": paper_divergence(sets.matched2, sets.paper_natives),
        "n_points": [n, len(sets.paper_natives)]}}
    if reference == "matched":
        native, native_seed = sets.matched, subsample_seed  # same rows on both sides
    else:
        native, native_seed = sets.task_natives, subsample_seed + 1
    for mid, max_points in ((f"sinkhorn_converged_{reference}", sinkhorn_max_points),
                            (f"exact_emd_{reference}", emd_max_points)):
        x = subsample(sets.intervened, max_points, seed=subsample_seed)
        perfect = subsample(sets.matched2, max_points, seed=subsample_seed)
        y = subsample(native, max_points, seed=native_seed)
        if mid.startswith("sinkhorn"):
            yy = _memo("ot_self", entropic_ot, y, y)
            value = sinkhorn_divergence(x, y, y_self=yy)
            floor = _memo("sinkhorn_floor", lambda p, q: sinkhorn_divergence(p, q, y_self=yy), perfect, y)
        else:
            value, floor = exact_emd(x, y), _memo("emd_floor", exact_emd, perfect, y)
        out[mid] = {"value": value, "floor": floor, "n_points": [len(x), len(y)]}
    return out


_MEMO: dict[tuple, float] = {}


def _memo(name: str, fn, a: np.ndarray, b: np.ndarray) -> float:
    """fn(a, b), remembered by the arrays' bytes: a floor depends on the data, not on the map, so the runs
    of one seed and task (every loss, both directions) share it within a worker process."""
    import hashlib

    key = (name, hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest(),
           hashlib.sha1(np.ascontiguousarray(b).tobytes()).hexdigest(), a.shape, b.shape)
    if key not in _MEMO:
        if len(_MEMO) > 256:
            _MEMO.clear()
        _MEMO[key] = fn(a, b)
    return _MEMO[key]


def measure_params(measure_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What each measure ran with beyond its registered definition: the installed library versions."""
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    libraries = {"grant2025": {"geomloss": v("geomloss"), "torch": v("torch")},
                 "sinkhorn": {"pot": v("pot"), "scipy": v("scipy"), "numpy": v("numpy")},
                 "exact_emd": {"pot": v("pot"), "numpy": v("numpy")},
                 "iia": {"torch": v("torch")}}
    return {m: {"versions": next(lib for prefix, lib in libraries.items() if m.startswith(prefix))}
            for m in measure_ids}


def estimator(measure_id: str):
    """The raw two-set estimator of a registered divergence measure: ``fn(x (n, d), y (m, d)) -> float``.

    The point sets a measure compares (and their sizes) are the protocol's business; this is the number
    computed from two given sets, as the measure defines it (z-scoring and ÷ √d included where it does).
    """
    from engine.paper_estimator import paper_divergence
    from graph.measures import get

    if get(measure_id).metric != "EMD":
        raise ValueError(f"{measure_id} is not a divergence measure.")
    if measure_id == "grant2025_geomloss_zscored_per_sqrt_d":
        from engine.llm_divergence import paper_zscore

        return lambda x, y: paper_divergence(paper_zscore(np.asarray(x, float)), paper_zscore(np.asarray(y, float))) \
            / np.sqrt(np.asarray(x).shape[1])
    if measure_id.endswith("_zscored_per_sqrt_d"):
        from engine.llm_divergence import zscore

        base = estimator(measure_id.replace("_divergence_zscored_per_sqrt_d", "_converged_task")
                         .replace("_zscored_per_sqrt_d", "_task"))
        return lambda x, y: base(zscore(np.asarray(x, float)), zscore(np.asarray(y, float))) / np.sqrt(x.shape[1])
    if measure_id.startswith("grant2025"):
        return paper_divergence
    if measure_id.startswith("sinkhorn"):
        return sinkhorn_divergence
    if measure_id.startswith("exact_emd"):
        return exact_emd
    raise ValueError(f"No estimator is implemented for {measure_id}.")
