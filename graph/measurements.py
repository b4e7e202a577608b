"""Quantities with uncertainty, read out of text: ``IIA of 0.997±0.001`` becomes a measurement row.

A title such as "Modified CL loss produces EMD along feature dimensions of 0.007±0.001 on synthetic
10-class dataset" yields metric ``EMD``, value 0.007, error 0.001, with the method (``CL``) and the
dataset named when the text names them.
"""
from __future__ import annotations

import re

from db.records import Measurement

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(
    rf"(?P<value>{_NUM})\s*(?:±|\+/-|\+-|\\pm)\s*(?P<err>{_NUM})(?P<pct>\s*%)?"
)
# metric names we recognise, longest first; the canonical name is the value
_METRICS = {
    "interchange intervention accuracy": "IIA",
    "iia": "IIA",
    "emd": "EMD",
    "earth mover's distance": "EMD",
    "sinkhorn divergence": "sinkhorn_divergence",
    "divergence": "divergence",
    "accuracy": "accuracy",
    "auc": "AUC",
    "f1": "F1",
    "loss": "loss",
}
_LOWER_IS_BETTER = {"EMD", "sinkhorn_divergence", "divergence", "loss"}
_METHODS = (
    (re.compile(r"\bboundless das\b", re.I), "Boundless DAS"),
    (re.compile(r"\bdas\s*\+\s*cl\b", re.I), "DAS+CL"),
    (re.compile(r"\bcl loss\b|\bcounterfactual[- ]latent\b|\bCL\b"), "CL"),
    (re.compile(r"\bdas\b", re.I), "DAS"),
)
_DATASETS = (
    (re.compile(r"synthetic 10-class", re.I), "synthetic10"),
    (re.compile(r"price tagging", re.I), "price_tagging"),
)
_ERR_KIND = (
    (re.compile(r"\bsem\b|standard error", re.I), "sem"),
    (re.compile(r"\bstd\b|standard deviation", re.I), "std"),
    (re.compile(r"95\s*%\s*ci|\bci95\b|confidence interval", re.I), "ci95"),
)


def _metric_before(text: str, start: int) -> str | None:
    window = text[max(0, start - 80):start].lower()
    best: tuple[int, str] | None = None
    for phrase, canonical in _METRICS.items():
        for m in re.finditer(rf"\b{re.escape(phrase)}\b", window):
            if best is None or m.start() > best[0]:
                best = (m.start(), canonical)
    return best[1] if best else None


def parse_measurements(text: str) -> list[Measurement]:
    """Every ``<metric> … <value>±<err>`` in ``text`` whose metric we can name."""
    out: list[Measurement] = []
    method = next((name for rx, name in _METHODS if rx.search(text)), None)
    dataset = next((name for rx, name in _DATASETS if rx.search(text)), None)
    err_kind = next((name for rx, name in _ERR_KIND if rx.search(text)), None)
    for q in _QUANTITY.finditer(text):
        metric = _metric_before(text, q.start())
        if metric is None:
            continue
        value, err = float(q.group("value")), float(q.group("err"))
        if q.group("pct"):
            value, err = value / 100, err / 100
        out.append(Measurement(
            metric=metric, value=value, err=err, err_kind=err_kind, method=method, dataset=dataset,
            higher_is_better=metric not in _LOWER_IS_BETTER,
        ))
    return out
