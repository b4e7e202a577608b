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
