"""One recorded number → a validated measurement and the finding that states it.

:func:`make_result` is what ``run.record(...)`` and ``findings import-results`` both call: it checks
everything at once and raises ``ValueError`` with one sentence (the checks the store makes on any
measurement, :class:`graph.schemas.MeasurementIn`, plus those a run adds: a registered measure of the same
metric, conditions that are JSON scalars, the run's protocol), then titles the finding the way the
engine's recorders do: method, metric, split, value ± error, measure (and floor), dataset, protocol and
conditions — "CL achieves cross IIA of 0.9980±0.0006 (iia_argmax) on synthetic10 (grant2025 protocol,
task=synthetic10, partition=og_holdouts, loss=cl, map=linear)".
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from db.records import Measurement
    from graph.runs import Result

PROTOCOL = "protocol"  # graph.replication.PROTOCOL_KEY, named here without importing the store


def number(value: Any, name: str) -> float:
    """``value`` as a float: a Python or NumPy number, or a 0-d tensor (anything with ``__float__``)."""
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
        raise ValueError(f"{name} must be a number, not {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, not {out}")
    return out


def scalar(value: Any, name: str) -> str | int | float | bool | None:
    """A JSON scalar (NumPy scalars become Python ones), or ``ValueError``."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return number(value, name)
    raise ValueError(f"{name} must be a string, number, boolean or null, not {type(value).__name__}")


def conditions_of(conditions: Any, protocol: str | None) -> dict[str, Any]:
    """The measurement's conditions: JSON scalars by string keys, with the run's protocol (a different
    explicit one is an error)."""
    if conditions is None:
        conditions = {}
    if not isinstance(conditions, dict):
        raise ValueError(f"conditions must be a dict, not {type(conditions).__name__}")  # noqa: TRY004 - input
    out = {}
    for key, value in conditions.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"condition names must be non-empty strings, not {key!r}")
        out[key] = scalar(value, f"condition {key!r}")
    if protocol is not None:
        if out.get(PROTOCOL, protocol) != protocol:
            raise ValueError(f"condition protocol={out[PROTOCOL]!r} contradicts the run's protocol {protocol!r}")
        out[PROTOCOL] = protocol
    return out


def measurement(*, metric: Any, value: Any, err: Any = None, err_kind: str | None = None, n: Any = None,
                measure: str | None = None, split: str | None = None, dataset: str | None = None,
                method: str | None = None, conditions: Any = None, protocol: str | None = None,
                floor: dict[str, Any] | None = None, measure_params: dict[str, Any] | None = None,
                higher_is_better: bool | None = None) -> Measurement:
    """A checked :class:`db.records.Measurement` (see the module docstring), or ``ValueError``."""
    from db.records import Measurement
    from graph import measures, schemas

    if not isinstance(metric, str) or not metric.strip():
        raise ValueError(f"metric must be a non-empty string, not {metric!r}")
    metric = metric.strip()
    value = number(value, "value")
    err = None if err is None else number(err, "err")
    if err is not None and err < 0:
        raise ValueError(f"err must be ≥ 0, not {err}")
    if err is not None and err_kind is None:
        raise ValueError("err needs its err_kind: std, sem or ci95")
    if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral)):
        raise ValueError(f"n must be a whole number, not {n!r}")
    if measure is not None:
        defined = measures.get(measure)  # ValueError naming the registered ids
        if defined.metric != metric:
            raise ValueError(f"measure {measure} measures {defined.metric}, not {metric}")
        if higher_is_better is None:
            higher_is_better = defined.higher_is_better
    checked = schemas.validate(schemas.MeasurementIn, {
        "metric": metric, "value": value, "err": err, "err_kind": err_kind if err is not None else None,
        "n": None if n is None else int(n), "split": split, "dataset": dataset, "method": method,
        "conditions": conditions_of(conditions, protocol), "higher_is_better": higher_is_better,
        "measure": measure, "measure_params": measure_params or {}, "floor": floor})
    return Measurement(**checked.model_dump())


def finding_title(m: Measurement) -> str:
    """The engine's way of titling a result (see the module docstring)."""
    from engine.record_synthetic import fmt_pm

    verb = {True: "achieves", False: "produces", None: "gives"}[m.higher_is_better]
    what = " ".join(p for p in (m.method or "The run", verb, m.split, m.metric) if p)
    extra = [m.measure] if m.measure else []
    if m.floor:
        extra.append(f"floor {fmt_pm(m.floor['mean'], m.floor.get('sem'))}")
    title = f"{what} of {fmt_pm(m.value, m.err)}" + (f" ({'; '.join(extra)})" if extra else "")
    if m.dataset:
        title += f" on {m.dataset}"
    context = [f"{m.conditions[PROTOCOL]} protocol"] if m.conditions.get(PROTOCOL) is not None else []
    context += [f"{k}={v}" for k, v in m.conditions.items() if k != PROTOCOL]
    if m.n:
        context.append(f"n={m.n}")
    return title + (f" ({', '.join(context)})" if context else "")


def finding_description(m: Measurement, origin: str) -> str:
    """What was measured, by what, how: the finding's description."""
    err = f" ± {m.err:g} ({m.err_kind}{f', n={m.n}' if m.n else ''})" if m.err is not None else (
        f" (n={m.n}, no error)" if m.n else "")
    parts = [f"Recorded by {origin}: {m.metric} = {m.value:g}{err}",
             f"measure {m.measure}" if m.measure else "no measure stated (never compared with a published number)"]
    parts += [f"{k} {getattr(m, k)}" for k in ("split", "dataset", "method") if getattr(m, k)]
    if m.floor:
        parts.append(f"the estimator's floor {m.floor['mean']:g}" + (
            f" ± {m.floor['sem']:g}" if m.floor.get("sem") is not None else ""))
    if m.conditions:
        parts.append("conditions " + ", ".join(f"{k}={v}" for k, v in m.conditions.items()))
    return "; ".join(parts) + "."


def make_result(*, origin: str, title: str | None = None, description: str | None = None,
                **fields: Any) -> Result:
    """A checked :class:`graph.runs.Result`: one finding, titled like the engine's unless ``title`` is given.
    ``fields`` are :func:`measurement`'s; a method ``A+B`` is about the methods A and B (as DAS+CL is)."""
    from graph.runs import Result

    m = measurement(**fields)
    if title is not None and (not isinstance(title, str) or not title.strip()):
        raise ValueError("title must be a non-empty string")
    methods = [p.strip() for p in (m.method or "").split("+") if p.strip()]
    return Result(title=title.strip() if title else finding_title(m),
                  description=description or finding_description(m, origin), measurement=m, methods=methods,
                  dataset=m.dataset)
