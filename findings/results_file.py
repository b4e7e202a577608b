"""A per-seed results file → pooled results → one run: what ``findings import-results`` does.

The file is a CSV (a header row) or a JSON list of objects, **one row per seed**:

* ``metric``, ``value``, ``seed`` — required;
* ``measure``, ``split``, ``dataset``, ``method`` — optional, as in ``run.record``;
* every other column is a condition (``task``, ``partition``, ``loss``, ``map``, ``epsilon``, ``protocol``…);
  text that reads as a number is stored as one, an empty cell leaves the condition out of that row.

A per-seed value has no error of its own, so ``err``, ``err_kind``, ``n``, ``sem`` and ``std`` columns are
refused. Rows that share everything but ``seed`` and ``value`` form a group, pooled to mean ± SEM
(:func:`graph.stats.summarize`: err_kind ``sem``, ``n`` the number of seeds; one seed has no SEM); each group
becomes one finding, checked like ``run.record``'s (:func:`findings.measurement.make_result`). Everything is
read and checked before anything is written; the whole file is then recorded as one run through
:class:`findings.api.Run`, with the file's path and SHA-256 as its code identity: importing the same file
with the same protocol and config again adds nothing.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findings.measurement import make_result, scalar

if TYPE_CHECKING:
    from graph.api import Graph
    from graph.runs import Result
    from graph.stats import Summary

REQUIRED = ("metric", "value", "seed")
FIELDS = ("measure", "split", "dataset", "method")  # measurement fields; every other column is a condition
NO_ERROR = ("err", "err_kind", "n", "sem", "std")  # a per-seed value has none: the error is the SEM over seeds
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Group:
    """The rows of one result: same metric, measure, split, dataset, method and conditions."""

    metric: str
    measure: str | None
    split: str | None
    dataset: str | None
    method: str | None
    conditions: dict[str, Any]
    seeds: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    summary: Summary | None = None

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        return {"metric": self.metric, "measure": self.measure, "split": self.split, "dataset": self.dataset,
                "method": self.method, "conditions": self.conditions, "seeds": self.seeds,
                "mean": s.mean if s else None, "sem": s.sem if s else None, "n": s.n if s else None}


def parse_cell(text: Any) -> Any:
    """A cell's value: text that reads as a finite number becomes one (an int when it has no point or
    exponent); blank text is None; anything else is kept as it is."""
    if not isinstance(text, str):
        return text
    text = text.strip()
    if text == "":
        return None
    if _NUMBER.fullmatch(text):
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        value = float(text)
        return value if math.isfinite(value) else text
    return text


def read_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for every row of a CSV or JSON results file, ``where`` naming it for errors."""
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ValueError(f"{path}: a JSON results file holds a list of objects, one per seed")
        rows = [(f"item {i}", r) for i, r in enumerate(data, 1)]
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        if len(set(header)) != len(header):
            raise ValueError(f"{path}: a column name appears twice in the header")
        rows = []
        for r in reader:
            if None in r or any(v is None for v in r.values()):
                raise ValueError(f"{path}: line {reader.line_num} has {'more' if None in r else 'fewer'} cells "
                                 f"than the header")
            rows.append((f"line {reader.line_num}", r))
    else:
        raise ValueError(f"{path}: expected a .csv or .json results file")
    if not rows:
        raise ValueError(f"{path}: no rows")
    columns = {k for _, r in rows for k in r}
    for name in REQUIRED:
        if name not in columns:
            raise ValueError(f"{path}: missing column {name!r} (each row needs metric, value and seed)")
    refused = [c for c in NO_ERROR if c in columns]
    if refused:
        raise ValueError(f"{path}: column {refused[0]!r} refused: one row per seed has no error of its own "
                         f"(the error is the SEM over the seeds)")
    return rows


def group_rows(rows: list[tuple[str, dict[str, Any]]]) -> list[Group]:
    """Rows grouped by everything but seed and value, in the order groups first appear; checks each cell."""
    groups: dict[str, Group] = {}
    for where, raw in rows:
        row = {str(k).strip(): parse_cell(v) for k, v in raw.items()}
        for name in REQUIRED:
            if row.get(name) is None:
                raise ValueError(f"{where}: no {name}")
        value, seed = row.pop("value"), row.pop("seed")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}: value {value!r} is not a finite number")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"{where}: seed {seed!r} is not a whole number")  # noqa: TRY004 - input: ValueError
        fields = {k: row.pop(k, None) for k in ("metric", *FIELDS)}
        for k, v in fields.items():  # a JSON file may give a number where a name belongs
            fields[k] = None if v is None else str(scalar(v, f"{where}: {k}"))
        conditions = {k: scalar(v, f"{where}: column {k!r}") for k, v in row.items() if v is not None}
        key = json.dumps([fields, sorted(conditions.items())], sort_keys=True, default=str)
        group = groups.setdefault(key, Group(conditions=conditions, **fields))
        if seed in group.seeds:
            raise ValueError(f"{where}: seed {seed} appears twice for {describe(group)}")
        group.seeds.append(seed)
        group.values.append(float(value))
    return list(groups.values())


def describe(g: Group) -> str:
    parts = [f"{k} {getattr(g, k)}" for k in FIELDS if getattr(g, k)]
    parts += [f"{k}={v}" for k, v in g.conditions.items()]
    return g.metric + (f" ({', '.join(parts)})" if parts else "")


def pooled_results(path: Path, protocol: str | None) -> tuple[list[Group], list[Result]]:
    """Read, group, pool and check every result of the file; ``ValueError`` on the first problem."""
    from graph.stats import summarize

    groups = group_rows(read_rows(path))
    results = []
    for g in groups:
        g.summary = s = summarize(g.values)
        try:
            results.append(make_result(
                origin=f"findings import-results from {path.name} (one row per seed, pooled)",
                metric=g.metric, value=s.mean, err=s.sem, err_kind="sem" if s.sem is not None else None, n=s.n,
                measure=g.measure, split=g.split, dataset=g.dataset, method=g.method, conditions=g.conditions,
                protocol=protocol))
        except ValueError as exc:
            raise ValueError(f"{describe(g)}: {exc}") from None
    return groups, results


def import_results(graph: Graph, path: Path, *, title: str | None = None, protocol: str | None = None,
                   config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record the file as one finished run (see the module docstring); returns the report
    ``{"run_id", "config_hash", "already_recorded", "findings", "replications", "not_compared", "groups"}``."""
    from findings.api import Run
    from findings.provenance import file_code

    groups, results = pooled_results(path, protocol)
    seeds = sorted({s for g in groups for s in g.seeds})
    run = Run(config=config, protocol=protocol, seeds=seeds, db=graph, announce=False, caller=file_code(path),
              title=title or f"results imported from {path.name}" + (f" ({protocol} protocol)" if protocol else ""),
              description=f"Per-seed results from {path.name}, pooled to mean ± SEM over seeds "
                          f"(findings import-results).",
              source={"api": "import-results", "file": str(path.resolve())})
    with run:
        for result in results:
            run.add_result(result)
    return {**run.report, "config_hash": run.config_hash, "groups": [g.to_json() for g in groups]}
