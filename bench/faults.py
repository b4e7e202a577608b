"""Faults on the distributed path (``make faults``): a node, the driver and the database die mid-sweep.

    python -m bench.faults [--scenarios node driver database] [--out bench/results/faults.json]

Each scenario runs the same 12-cell synthetic sweep (small settings: seconds a cell) with the real
``findings sweep`` command as a process of its own, breaks something while cells run, and audits the store:

* ``node`` — a two-node Ray cluster on 127.0.0.1 (:mod:`tests.ray_cluster`: a head with 1 CPU, a worker
  with 2); once cells run on the worker, the worker node is killed (SIGKILL of its raylet and processes).
  Its cells come back lost and are resubmitted to the head.
* ``driver`` — the local pool; once some cells are recorded and others run, the driver gets SIGKILL. Its
  open runs stay ``running``; ``findings runs --json`` must show them ``abandoned``; the same command is
  started again, skips the finished cells and runs the rest, the abandoned ones included.
* ``database`` — a throwaway PostgreSQL server (:mod:`tests.pg`) as the store; from the first result on,
  ``pg_ctl restart -m fast`` again and again (a second apart, up to 40 times) while results arrive: every
  session is cut and the server is down for a moment each time. ``findings check`` must be clean after.

The audit reads the store: ``finished`` cells (a finished run under the cell's config hash), ``findings``
(of those runs), ``duplicates`` (a second finished run for a cell, a second finding of one quantity of a
cell), ``lost`` (a cell without a finished run, a quantity of the reference without its finding), and
``same_numbers``: every cell's recorded summary and every finding's value equal, bit for bit, those of a
reference sweep of the same spec on the local pool without faults. ``retries``: resubmitted cells (node),
abandoned runs taken over (driver), transactions the store re-ran (database). One JSON line per scenario
on stdout; details on stderr and in ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPEC = {"task": "synthetic",
        "grid": {"partition": ["og_holdouts"], "loss": ["das", "das+cl"], "epsilon": [1, 100], "map": ["linear"],
                 "seeds": [0, 1, 2, 3]},  # das: 4 cells (ε is not its axis), das+cl: 2 × 4
        "settings": {"max_epochs": 60, "patience": 30, "samples_per_class": 12, "train_interventions": 40,
                     "eval_interventions": 40, "classifier_epochs": 40, "classifier_patience": 20},
        "retries": 1, "resources": {"num_cpus": 1, "num_gpus": 0}}
SCENARIOS = ("node", "driver", "database")
STATS_ENV = "FINDINGS_FAULTS_STATS"


def log(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- the driver: `findings` in a process of its own, leaving its store retries behind -------------------
def driver_main(argv: list[str]) -> None:
    """``python -m bench.faults driver ARGS…``: the ``findings`` CLI, writing db.retry's counts to
    ``$FINDINGS_FAULTS_STATS`` when it exits (not when it is killed)."""
    import atexit

    from db.retry import RetryStats

    def dump() -> None:
        if os.environ.get(STATS_ENV):
            Path(os.environ[STATS_ENV]).write_text(json.dumps({"retries": RetryStats.retries,
                                                               "by_reason": RetryStats.by_reason}))

    atexit.register(dump)
    sys.argv = ["findings", *argv]
    from app.cli import main

    main()


class Sweep:
    """One ``findings sweep`` process on a spec and a store."""

    def __init__(self, work: Path, db: str, *args: str, env: dict[str, str] | None = None, name: str = "sweep"):
        self.stats = work / f"{name}.stats.json"
        self.stats.unlink(missing_ok=True)
        self.err = open(work / f"{name}.stderr", "w", encoding="utf-8")  # noqa: SIM115 - closed in wait()
        cmd = [sys.executable, "-m", "bench.faults", "driver", "--db", db, "sweep", str(work / "spec.json"),
               "--json", "--quiet", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     env={**(env or os.environ), STATS_ENV: str(self.stats)})

    def wait(self, timeout: float = 900) -> tuple[int, dict[str, Any] | None]:
        out, _ = self.proc.communicate(timeout=timeout)
        self.err.close()
        (self.stats.parent / f"{self.stats.name.split('.')[0]}.stdout").write_text(out, encoding="utf-8")
        try:
            return self.proc.returncode, json.loads(out) if out.strip() else None
        except json.JSONDecodeError as exc:
            log(f"the sweep's report is not JSON ({exc}): {out[:300]!r}")
            return self.proc.returncode, None

    def store_retries(self) -> dict[str, Any]:
        return json.loads(self.stats.read_text()) if self.stats.exists() else {"retries": 0, "by_reason": {}}

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.err.close()


# ---- the audit --------------------------------------------------------------------------------------------
def _cell_keys() -> list[str]:
    from engine.sweep import expand, parse_spec

    cells, _ = expand(parse_spec(SPEC))
    return [c.key for c in cells]


def _summary_numbers(summary: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(summary))
    data.pop("wall_time_s", None)
    for run in data.get("per_run", []):
        run.pop("duration_s", None)
    return data


def store_numbers(db: str) -> dict[str, Any]:
    """Per config hash: its finished runs' summaries and findings, and the runs by status."""
    from graph.api import Graph

    g = Graph(db)
    out: dict[str, Any] = {"finished": {}, "statuses": Counter(), "findings": 0}
    for run in g.nodes(kind="run"):
        out["statuses"][run.attrs.get("status")] += 1
        if run.attrs.get("status") != "finished":
            continue
        rows = g.finding_rows(run=run.id)
        out["findings"] += len(rows)
        values = sorted((r.measurement.metric, r.measurement.measure or "", r.measurement.split or "",
                         r.measurement.value, r.measurement.err) for r in rows)
        out["finished"].setdefault(run.attrs["config_hash"], []).append(
            {"summary": _summary_numbers(run.attrs.get("summary") or {}), "findings": values})
    g.store.dispose()
    return out


def audit(db: str, reference: dict[str, Any]) -> dict[str, Any]:
    keys = _cell_keys()
    got = store_numbers(db)
    finished = sum(1 for k in keys if got["finished"].get(k))
    duplicates = lost = 0
    same = True
    for key in keys:
        runs = got["finished"].get(key, [])
        ref = reference["finished"][key][0]
        if not runs:
            lost += 1 + len(ref["findings"])
            same = False
            continue
        duplicates += len(runs) - 1
        quantities = Counter(f[:3] for run in runs for f in run["findings"])
        duplicates += sum(n - 1 for n in quantities.values() if n > 1)
        lost += sum(1 for f in ref["findings"] if f[:3] not in quantities)
        same = same and all(run["summary"] == ref["summary"] and run["findings"] == ref["findings"] for run in runs)
    return {"cells": len(keys), "finished": finished, "findings": got["findings"], "duplicates": duplicates,
            "lost": lost, "same_numbers": same, "runs_by_status": dict(got["statuses"])}


def line(scenario: str, faults: int, retries: int, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
    keys = ("cells", "finished", "findings", "duplicates", "lost", "same_numbers")
    return {"scenario": scenario, "cells": result["cells"], "faults": faults, "retries": retries,
            **{k: result[k] for k in keys[1:]}, **extra}


def _wait(predicate, timeout: float, what: str, interval: float = 0.25) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def _finished_runs(db: str) -> int:
    """Finished runs in the store, read without the store's machinery (polled while a sweep writes)."""
    import sqlite3

    if db.startswith("postgresql"):
        import psycopg

        try:
            with psycopg.connect(db.replace("+psycopg", ""), connect_timeout=5) as conn:
                return conn.execute("SELECT count(*) FROM nodes WHERE kind = 'run' "
                                    "AND attrs::jsonb->>'status' = 'finished'").fetchone()[0]
        except psycopg.Error:
            return 0
    path = db.removeprefix("sqlite:///")
    if not Path(path).exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("SELECT attrs FROM nodes WHERE kind = 'run'").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return sum(json.loads(a).get("status") == "finished" for (a,) in rows)


# ---- the scenarios ----------------------------------------------------------------------------------------
def reference_run(work: Path) -> dict[str, Any]:
    db = f"sqlite:///{work / 'reference.db'}"
    start = time.perf_counter()
    rc, report = Sweep(work, db, "--workers", "2", name="reference").wait()
    if rc != 0:
        raise RuntimeError(f"the reference sweep failed (exit {rc}); see {work / 'reference.stderr'}")
    log(f"reference sweep (local pool, 2 workers): {time.perf_counter() - start:.0f} s")
    return store_numbers(db)


def scenario_node(work: Path, reference: dict[str, Any]) -> dict[str, Any]:
    from tests.ray_cluster import LocalRayCluster

    db = f"sqlite:///{work / 'node.db'}"
    with LocalRayCluster(head_cpus=1) as cluster:
        worker = cluster.add_worker(num_cpus=2)
        log(f"cluster up at {cluster.address}: head 1 CPU, worker 2 CPUs")
        sweep = Sweep(work, db, "--backend", "ray", "--address", cluster.address, env=cluster.env, name="node")
        _wait(lambda: cluster.busy(worker) >= 2 or sweep.proc.poll() is not None, 600, "cells on the worker node")
        busy = cluster.busy(worker)
        cluster.kill(worker)
        log(f"killed the worker node while {busy} cell(s) ran on it")
        rc, report = sweep.wait()
    counts = (report or {}).get("counts", {})
    result = audit(db, reference)
    return line("node", 1, counts.get("resubmitted", 0) + counts.get("retried", 0), result, exit_status=rc,
                busy_on_killed_node=busy, resubmitted=counts.get("resubmitted"), left_running=_left_running(result))


def _left_running(result: dict[str, Any]) -> int:
    return result["runs_by_status"].get("running", 0)


def scenario_driver(work: Path, reference: dict[str, Any]) -> dict[str, Any]:
    db = f"sqlite:///{work / 'driver.db'}"
    first = Sweep(work, db, "--workers", "2", name="driver-1")
    _wait(lambda: _finished_runs(db) >= 3 or first.proc.poll() is not None, 600, "three recorded cells")
    first.kill()
    log(f"SIGKILLed the driver (pid {first.proc.pid}) after {_finished_runs(db)} cells were recorded")
    shown = json.loads(subprocess.run([sys.executable, "-m", "app", "--db", db, "runs", "--json"], cwd=ROOT,
                                      capture_output=True, text=True, check=True).stdout)
    abandoned_shown = sum(r["status"] == "abandoned" for r in shown)
    still_running = sum(r["status"] == "running" for r in shown)
    log(f"findings runs: {abandoned_shown} abandoned, {still_running} running")
    rc, report = Sweep(work, db, "--workers", "2", name="driver-2").wait()
    counts = (report or {}).get("counts", {})
    taken_over = len((report or {}).get("abandoned", []))
    result = audit(db, reference)
    return line("driver", 1, taken_over + counts.get("resubmitted", 0) + counts.get("retried", 0), result,
                exit_status=rc, abandoned_shown=abandoned_shown, running_shown=still_running,
                skipped_on_resume=counts.get("skipped"), rerun_abandoned=taken_over,
                left_running=_left_running(result))


def scenario_database(work: Path, reference: dict[str, Any], restarts: int = 40, pause: float = 1.0) -> dict[str, Any]:
    from tests.pg import PgServer, _bin_dir

    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found: run scripts/ensure_postgres.sh")
    server = PgServer(bin_dir)
    try:
        server.start()
        db = server.url(server.create_database())
        sweep = Sweep(work, db, "--workers", "2", name="database")
        _wait(lambda: _finished_runs(db) >= 1 or sweep.proc.poll() is not None, 600, "the first result")
        done, down_s = 0, 0.0
        while done < restarts and sweep.proc.poll() is None:  # while results arrive
            t = time.perf_counter()
            server.restart()
            done += 1
            down_s += time.perf_counter() - t
            time.sleep(pause)
        log(f"pg_ctl restart -m fast × {done} ({down_s:.1f} s in restarts), from the first result on")
        rc, report = sweep.wait()
        store = sweep.store_retries()
        check = subprocess.run([sys.executable, "-m", "app", "--db", db, "check", "--json"], cwd=ROOT,
                               capture_output=True, text=True)
        result = audit(db, reference)
        from db.engine import get_engine

        get_engine.cache_clear()
    finally:
        server.stop()
    return line("database", done, store["retries"], result, exit_status=rc, store_retries=store["by_reason"],
                check="clean" if check.returncode == 0 else check.stdout.strip()[:500],
                left_running=_left_running(result))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["driver"]:
        driver_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "faults.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    lines = []
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        work = Path(tmp)
        (work / "spec.json").write_text(json.dumps(SPEC), encoding="utf-8")
        reference = reference_run(work)
        for name in args.scenarios:
            t = time.perf_counter()
            out = {"node": scenario_node, "driver": scenario_driver, "database": scenario_database}[name](
                work, reference)
            out["wall_s"] = round(time.perf_counter() - t, 1)
            print(json.dumps(out), flush=True)
            lines.append(out)
    total = round(time.perf_counter() - start, 1)
    log(f"all scenarios: {total} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"scenarios": lines, "wall_s": total, "spec": SPEC}, indent=1) + "\n")
    ok = all(o["lost"] == 0 and o["duplicates"] == 0 and o["finished"] == o["cells"] and o["same_numbers"]
             for o in lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
