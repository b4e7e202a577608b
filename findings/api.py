"""``findings.run``: record results of your own code as a run, with the engine's lifecycle and verdicts.

The lifecycle is the engine's own (:class:`engine.record.RunLedger` over :mod:`graph.runs`):

* entering the block opens a ``run`` node with status ``running``, committed at once (its config, protocol,
  seeds, site and the provenance of :mod:`findings.provenance`);
* ``run.record(...)`` and ``run.record_seeds(...)`` check each result at once (``ValueError``, nothing
  written) and keep it;
* leaving the block normally writes every result as a finding — with ``produced_by`` → the run, the
  like-for-like replication verdicts against published findings, stance edges to their claims and the
  ``not_compared`` list — and marks the run ``finished``, in one transaction;
* leaving it with an exception (``KeyboardInterrupt`` and SIGTERM included) marks the run ``failed`` with the
  error, writes no finding, and lets the exception go on.

**Re-running.** As for the engine: a run whose key (config, protocol, seeds and code identity — the
calling script's bytes, the ``code=`` files and the library versions) matches a finished run is not
recorded again. The block still runs (``run.already_recorded`` is True from the start, so a script can skip
its work), its results are checked and dropped, and a line on stderr names the recorded run. Any edit of the
script, a different config or seed list, or another library version records a new run. In a notebook or a
REPL nothing identifies the code that ran (cells change without the file changing), so every run there is
recorded.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findings.measurement import make_result, number
from findings.provenance import Code, caller_code, provenance, run_key

if TYPE_CHECKING:
    from typing_extensions import Self

    from engine.record import RunLedger
    from graph.api import Graph
    from graph.runs import Result


def _checked_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict, not {type(config).__name__}")  # noqa: TRY004 - input: ValueError
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config must hold JSON values only (strings, finite numbers, booleans, null, lists, "
                         f"dicts): {exc}") from None
    return config


def _checked_seeds(seeds: Any) -> list[int] | None:
    if seeds is None:
        return None
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ValueError(f"seeds must be a list of whole numbers, not {seeds!r}")  # noqa: TRY004 - as above
    out = []
    for s in seeds:
        if isinstance(s, bool) or not hasattr(s, "__index__"):
            raise ValueError(f"seeds must be whole numbers, not {s!r}")
        out.append(int(s))
    return out


def _checked_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value.strip()


class Run:
    """One run of the caller's code; use it as a context manager (see :func:`run`)."""

    def __init__(self, *, config: dict[str, Any] | None = None, protocol: str | None = None,
                 title: str | None = None, seeds: Sequence[int] | None = None, db: str | Graph | None = None,
                 site: str | None = None, description: str = "", code: Iterable[str | Path] = (),
                 caller: Code | None = None, source: dict[str, Any] | None = None, announce: bool = True):
        self.config = _checked_config(config)
        self.protocol = _checked_text(protocol, "protocol")
        self.title = _checked_text(title, "title")
        self.seeds = _checked_seeds(seeds)
        self.site = _checked_text(site, "site")
        self.description = description or ""
        self._db, self._code_paths, self._caller, self._source = db, list(code), caller, source
        missing = [str(p) for p in self._code_paths if not Path(p).expanduser().exists()]
        if missing:
            raise ValueError(f"code: no such file or folder: {missing[0]}")
        self._announce = announce  # a line on stderr when the block closes (the CLI prints its own)
        self._results: list[Result] = []
        self._ledger: RunLedger | None = None
        self._state = "new"  # new → open (or recorded: a finished run stands in) → closed
        self.run_id: str | None = None  # this run, or the finished run that stands in for it
        self.config_hash: str | None = None
        self.code: Code | None = None
        self.already_recorded = False
        # after the block: {"run_id", "findings", "replications", "not_compared", "already_recorded"}
        self.report: dict[str, Any] | None = None

    # ---- the lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a run is entered once; call findings.run(...) again for another run")
        from engine.record import RunIdentity, RunLedger
        from graph.api import Graph

        self.code = self._caller or caller_code(self._code_paths)
        self.config_hash = run_key(self.config, self.protocol, self.seeds, self.code)
        where = self.code.path or f"({self.code.kind})"
        identity = RunIdentity(key=self.config_hash, provenance=provenance(self.code, self.protocol, self.seeds),
                               source=self._source or {"api": "findings.run", "code": where},
                               reuse=self.code.digest is not None)
        title = self.title or f"{Path(where).name if self.code.path else where}" + (
            f" ({self.protocol} protocol)" if self.protocol else "")
        graph = self._db if isinstance(self._db, Graph) else Graph(self._db)
        ledger = RunLedger(graph).__enter__()
        try:
            handle = ledger.open(title=title, config=self.config, site=self.site, divergence_measure=None,
                                 description=self.description or f"Results recorded by findings.run from {where}.",
                                 identity=identity)
        except BaseException as exc:
            ledger.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._ledger = ledger
        if handle.run_id is None:
            self.run_id, self.already_recorded, self._state = handle.existing.id, True, "recorded"
        else:
            self.run_id, self._state = handle.run_id, "open"
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        ledger, state = self._ledger, self._state
        self._state = "closed"
        try:
            if exc_type is None and state == "open":
                self.report = {**ledger.finish(self.run_id, self._results), "already_recorded": False}
            elif exc_type is None:  # a finished run stands in: nothing new, and the report says so
                self.report = {"run_id": self.run_id, "findings": [], "replications": [], "not_compared": [],
                               "already_recorded": True}
        except BaseException as err:  # the store failed: the run is marked failed, the error goes on
            ledger.__exit__(type(err), err, err.__traceback__)
            raise
        ledger.__exit__(exc_type, exc, tb)  # with an exception: the open run is marked failed with it
        if self._announce and exc_type is None:
            print(self.summary(), file=sys.stderr)
        elif self._announce and state == "open":
            print(f"findings: run {self.run_id} marked failed ({exc_type.__name__}); no finding written",
                  file=sys.stderr)
        return False

    def summary(self) -> str:
        """One line: what the block recorded (or which recorded run stands in for it)."""
        if self.already_recorded:
            return (f"findings: already recorded as {self.run_id} (same config, protocol, seeds and code); "
                    f"{len(self._results)} result(s) not recorded again")
        if self.report is None:
            return f"findings: run {self.run_id} is {self._state}"
        verdicts = [v["edge"] for v in self.report["replications"]]
        return (f"findings: recorded {self.run_id}: {len(self.report['findings'])} finding(s), "
                f"{verdicts.count('replicates')} replicates, {verdicts.count('fails_to_replicate')} "
                f"fails_to_replicate, {len(self.report['not_compared'])} not compared")

    # ---- results ------------------------------------------------------------------------------
    def record(self, *, metric: str, value: float, err: float | None = None, err_kind: str | None = None,
               n: int | None = None, measure: str | None = None, split: str | None = None,
               dataset: str | None = None, method: str | None = None, conditions: dict[str, Any] | None = None,
               floor: dict[str, Any] | None = None, measure_params: dict[str, Any] | None = None,
               higher_is_better: bool | None = None, title: str | None = None) -> None:
        """Keep one result, to be written as a finding when the block closes; ``ValueError`` at once if it
        is not valid (see :mod:`findings.measurement`). ``measure`` is a registered id (``findings
        measures``); ``floor`` is ``{"mean", "sem", "n"}``, the estimator's floor on your data."""
        self._require_active()
        self.add_result(make_result(
            origin=self._origin(), title=title, metric=metric, value=value, err=err, err_kind=err_kind, n=n,
            measure=measure, split=split, dataset=dataset, method=method, conditions=conditions,
            protocol=self.protocol, floor=floor, measure_params=measure_params, higher_is_better=higher_is_better))

    def record_seeds(self, *, metric: str, values: Sequence[float], **fields: Any) -> None:
        """Keep one result from per-seed values: their mean ± SEM (:func:`graph.stats.summarize`, ddof = 1;
        one value has no SEM), with ``n`` the number of values. ``fields`` as :meth:`record`'s."""
        from graph.stats import summarize

        given = sorted(k for k in ("err", "err_kind", "n", "value") if k in fields)
        if given:
            raise ValueError(f"record_seeds computes {', '.join(given)} from the values; do not pass them")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"values must be a list of numbers, not {values!r}")  # noqa: TRY004 - as above
        s = summarize([number(v, "each value") for v in values])
        self.record(metric=metric, value=s.mean, err=s.sem, err_kind="sem" if s.sem is not None else None,
                    n=s.n, **fields)

    def add_result(self, result: Result) -> None:
        """Keep a result already checked by :func:`findings.measurement.make_result` (as the importer does)."""
        self._require_active()
        self._results.append(result)

    def _origin(self) -> str:
        code = self.code
        return f"findings.run from {code.path or code.kind}" if code else "findings.run"

    def _require_active(self) -> None:
        if self._state not in ("open", "recorded"):
            raise RuntimeError("record inside the `with findings.run(...) as run:` block")

    @property
    def results(self) -> list[Result]:
        """The results kept so far (written when the block closes)."""
        return list(self._results)


def run(*, config: dict[str, Any] | None = None, protocol: str | None = None, title: str | None = None,
        seeds: Sequence[int] | None = None, db: str | None = None, site: str | None = None,
        description: str = "", code: Iterable[str | Path] = ()) -> Run:
    """A run of your own code, recorded like the engine's::

        with findings.run(config={"lr": 1e-3}, protocol="grant2025", seeds=[0, 1, 2]) as run:
            ...
            run.record(metric="IIA", value=0.998, err=0.0006, err_kind="sem", n=10, measure="iia_argmax",
                       split="cross", dataset="synthetic10", method="CL", conditions={"partition": "og_holdouts"})

    ``config``: what the results depend on (JSON); ``protocol``: becomes condition ``protocol`` of every
    result (verdicts compare only like for like); ``seeds``: stored on the run; ``db``: an SQLAlchemy URL or
    SQLite path (default ``FINDINGS_DB``, else ``~/.local/share/findings/findings.db``); ``site``: the
    intervention site; ``code``: more files or folders of your code to hash into the code identity (the
    calling script always is). Bad arguments raise ``ValueError`` here, before anything is written.
    """
    return Run(config=config, protocol=protocol, title=title, seeds=seeds, db=db, site=site,
               description=description, code=code)
