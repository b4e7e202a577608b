"""Summary statistics and the agreement rule: the one home for "mean ± SEM" and for "do two numbers agree".

**Mean ± SEM** (:func:`summarize`): the arithmetic mean of n values and the standard error of the mean,
SEM = s / √n with s the sample standard deviation (ddof = 1). With **n = 1 the SEM is undefined and is
``None``**, never 0: a single run has no spread to report, and a zero error would claim a perfectly known
value (and make every agreement test with it fail on any difference). An empty list is an error.
Missing values (``None``, NaN) are an error too unless ``skip_missing`` is set, in which case they are
dropped first and ``n`` counts what is left.

**Agreement** (:func:`agreement`): two values with stated uncertainties agree when

    |a − b| ≤ Z · √(e_a² + e_b²),   Z = 2,

i.e. they lie within about two combined standard errors of each other (a missing error counts as 0; with
no error on either side only equal values agree). Replication verdicts (:mod:`graph.runs`) and the Boundless
recorder's "IIA held" test both use this rule.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

AGREEMENT_Z = 2.0
AGREEMENT_RULE = "|Δ| ≤ 2·√(e_a² + e_b²)"


@dataclass(frozen=True)
class Summary:
    """Mean ± SEM over ``n`` values; ``sem`` is None when n = 1."""

    mean: float
    sem: float | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "sem": self.sem, "n": self.n}

    def text(self, digits: int = 4) -> str:
        """``0.9970±0.0013``, or the mean alone (``0.9970 (n=1)``) when there is no SEM."""
        if self.sem is None:
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f}±{self.sem:.{digits}f}"

    def __str__(self) -> str:
        return self.text()


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def summarize(values: Iterable[float | None], *, skip_missing: bool = False) -> Summary:
    """Mean ± SEM (ddof = 1) of ``values``; SEM None for a single value. Raises ``ValueError`` when empty."""
    vals = list(values)
    if skip_missing:
        vals = [v for v in vals if not _missing(v)]
    elif any(_missing(v) for v in vals):
        raise ValueError("Cannot summarise a list with missing values (None or NaN).")
    if not vals:
        raise ValueError("Cannot summarise an empty list of values.")
    n = len(vals)
    mean = math.fsum(float(v) for v in vals) / n
    if n == 1:
        return Summary(mean, None, 1)
    var = math.fsum((float(v) - mean) ** 2 for v in vals) / (n - 1)
    return Summary(mean, math.sqrt(var / n), n)


def agreement(a: float, err_a: float | None, b: float, err_b: float | None,
              z: float = AGREEMENT_Z) -> dict[str, Any]:
    """The agreement rule, with everything needed to check it by hand.

    Returns ``{"agrees", "difference", "combined_err", "z"}``; ``z`` is |Δ| / combined error (None when
    both errors are missing or zero).
    """
    combined = math.sqrt((err_a or 0.0) ** 2 + (err_b or 0.0) ** 2)
    diff = abs(a - b)
    agrees = diff <= z * combined if combined > 0 else diff <= 1e-12
    return {"agrees": agrees, "difference": round(diff, 10), "combined_err": round(combined, 10),
            "z": round(diff / combined, 3) if combined > 0 else None}


# ---- standard errors and pooling -------------------------------------------------------------------
Z95 = 1.959963984540054  # the normal distribution's two-sided 95 % quantile


def standard_error(err: float | None, err_kind: str | None, n: int | None) -> tuple[float | None, str | None]:
    """The standard error a stated error implies → (SE, None), or (None, why it has none).

    ``sem`` is one; ``std`` becomes std / √n (n required); ``ci95`` is the half-width of a normal 95 %
    interval, so SE = half-width / 1.96. A missing error, an unstated kind or a zero error give no SE (a
    zero would weigh infinitely in a pool).
    """
    if err is None:
        return None, "no error stated"
    if not math.isfinite(err) or err < 0:
        return None, f"error {err} is not a finite non-negative number"
    if err == 0:
        return None, "zero error: it would weigh infinitely"
    if err_kind == "sem":
        return float(err), None
    if err_kind == "std":
        if not n or n < 1:
            return None, "a standard deviation without n"
        return float(err) / math.sqrt(n), None
    if err_kind == "ci95":
        return float(err) / Z95, None
    return None, f"error kind {err_kind or 'not stated'}: not known to be an SE, an SD or a 95 % half-width"


POOLING_METHOD = ("inverse-variance fixed effect and DerSimonian–Laird random effects "
                  "(statsmodels.stats.meta_analysis.combine_effects, method_re='dl'; τ² truncated at 0)")


@dataclass(frozen=True)
class Pooled:
    """A fixed-effect and a random-effects (DerSimonian–Laird) pool of k estimates."""

    k: int
    fixed_estimate: float
    fixed_se: float
    random_estimate: float
    random_se: float
    tau2: float
    i2: float
    q: float
    p: float

    def to_json(self) -> dict[str, Any]:
        def ci(est: float, se: float) -> list[float]:
            return [est - Z95 * se, est + Z95 * se]

        return {"k": self.k, "method": POOLING_METHOD,
                "fixed": {"estimate": self.fixed_estimate, "se": self.fixed_se,
                          "ci95": ci(self.fixed_estimate, self.fixed_se)},
                "random": {"estimate": self.random_estimate, "se": self.random_se, "tau2": self.tau2, "i2": self.i2,
                           "q": self.q, "p": self.p, "ci95": ci(self.random_estimate, self.random_se)}}


def pool(values: list[float], ses: list[float]) -> Pooled:
    """Pool k ≥ 2 estimates with their standard errors (inverse-variance fixed effect; DerSimonian–Laird random
    effects with Cochran's Q, its χ²(k−1) p-value, τ² and I²), by statsmodels' ``combine_effects``.

    statsmodels returns DerSimonian–Laird's raw moment estimate of τ², (Q − (k−1)) / c, which is negative when
    Q < k − 1 (and I² with it). DerSimonian and Laird truncate it at 0; with τ² = 0 the random-effects model *is*
    the fixed-effect one, so then the random-effects estimate and SE are the fixed-effect fit's and I² is 0.
    """
    if len(values) != len(ses) or len(values) < 2:
        raise ValueError("pooling needs at least two estimates, each with a standard error")
    if any(not math.isfinite(s) or s <= 0 for s in ses) or any(not math.isfinite(v) for v in values):
        raise ValueError("pooling needs finite estimates and positive standard errors")
    import numpy as np
    from statsmodels.stats.meta_analysis import combine_effects

    with np.errstate(invalid="ignore"):  # a negative raw τ² makes statsmodels take square roots of negatives
        res = combine_effects(np.asarray(values, float), np.asarray(ses, float) ** 2, method_re="dl")
    p = float(res.test_homogeneity().pvalue)
    fixed = (float(res.mean_effect_fe), float(res.sd_eff_w_fe))
    if res.tau2 > 0:
        random, tau2, i2 = (float(res.mean_effect_re), float(res.sd_eff_w_re)), float(res.tau2), float(res.i2)
    else:
        random, tau2, i2 = fixed, 0.0, 0.0
    return Pooled(len(values), *fixed, *random, tau2, max(0.0, i2), float(res.q), p)
