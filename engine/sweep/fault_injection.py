"""Injected cell failures, for tests of retries and failure handling: ``FINDINGS_SWEEP_FAIL_CELLS``.

The variable holds rules separated by ``;``; a rule is comma-separated ``key=value`` pairs over a cell's
labels (partition, loss, epsilon, map, k, seed). A cell whose labels match every pair of some rule raises
``RuntimeError("injected failure ...")`` inside its worker, on every attempt::

    FINDINGS_SWEEP_FAIL_CELLS="loss=das+cl,seed=1"          # one cell
    FINDINGS_SWEEP_FAIL_CELLS="seed=0;partition=inner_square"  # two groups of cells

The variable is read on the driver when the grid is expanded (:func:`is_injected`) and the verdict travels
with the cell to the worker (:func:`raise_if_injected`), so it reaches every backend, Ray nodes included.
Unset, it changes nothing.
"""
from __future__ import annotations

import os
from typing import Any

FAIL_HOOK_ENV = "FINDINGS_SWEEP_FAIL_CELLS"


def _rules() -> list[dict[str, str]]:
    raw = os.environ.get(FAIL_HOOK_ENV, "").strip()
    if not raw:
        return []
    rules = []
    for rule in raw.split(";"):
        pairs = [p.split("=", 1) for p in rule.split(",") if "=" in p]
        if pairs:
            rules.append({k.strip(): v.strip() for k, v in pairs})
    return rules


def _matches(labels: dict[str, Any], rule: dict[str, str]) -> bool:
    def same(value: Any, text: str) -> bool:
        if isinstance(value, float):
            try:
                return value == float(text)
            except ValueError:
                return False
        return str(value) == text

    return all(k in labels and same(labels[k], v) for k, v in rule.items())


def is_injected(labels: dict[str, Any]) -> bool:
    """Whether ``FINDINGS_SWEEP_FAIL_CELLS`` asks the cell with these labels to fail."""
    return any(_matches(labels, rule) for rule in _rules())


def raise_if_injected(inject: bool) -> None:
    """In the worker: raise the injected failure when the driver marked the cell for one."""
    if inject:
        raise RuntimeError(f"injected failure ({FAIL_HOOK_ENV})")
