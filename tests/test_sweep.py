"""``findings sweep``: the grid, the local and Ray backends (same numbers), resuming, and failing cells.

The sweeps here use tiny synthetic settings (a few epochs, a dozen samples per class): the numbers are not
meaningful, only that both backends give the same ones. The Ray test starts a local Ray instance with 2 CPUs
bound to 127.0.0.1; it is skipped only where Ray is not installed and CI is unset.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from app.commands.sweep import format_report
from engine.sweep import FAIL_HOOK_ENV, expand, parse_spec, plan_sweep, run_sweep
from tests.conftest import ROOT

TINY = {"max_epochs": 20, "patience": 10, "samples_per_class": 12, "train_interventions": 30,
        "eval_interventions": 30, "classifier_epochs": 15}
SMALL = {"task": "synthetic", "grid": {"partition": ["og_holdouts"], "loss": ["das", "das+cl"], "epsilon": [1, 100],
                                       "map": ["linear"], "seeds": [0, 1]},
         "settings": TINY, "retries": 1, "resources": {"num_cpus": 1, "num_gpus": 0}}

HAVE_RAY = importlib.util.find_spec("ray") is not None  # not imported here: the backend sets up Ray's env first
needs_ray = pytest.mark.skipif(not HAVE_RAY and not os.environ.get("CI"),
                               reason="Ray is not installed (pip install 'findings-explorer[ray]'); "
                                      "in CI (CI set) this test runs and fails instead")


def _numbers(cell) -> dict:
    """A cell's result without its timings."""
    data = json.loads(json.dumps(cell.data))
    data.pop("wall_time_s", None)
    for run in data["per_run"]:
        run.pop("duration_s")
    return data


def cli(db: str) -> typer.Typer:
    from app.commands.sweep import register

    root = typer.Typer()

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = {"db": db}

    register(root)
    return root


# ---- the spec and the grid -----------------------------------------------------------------------------
def test_grid_merges_epsilon_for_losses_without_it():
    cells, duplicates = expand(parse_spec(SMALL))
    assert len(cells) == 6 and duplicates == 2  # das ignores ε: one das cell per seed, not one per (ε, seed)
    assert [(c.labels["loss"], c.labels["epsilon"], c.labels["seed"]) for c in cells] == [
        ("das", None, 0), ("das", None, 1), ("das+cl", 1.0, 0), ("das+cl", 1.0, 1),
        ("das+cl", 100.0, 0), ("das+cl", 100.0, 1)]
    assert all(c.config.seeds == (c.labels["seed"],) for c in cells)  # one independent run per seed
    assert len({c.key for c in cells}) == 6


def test_spec_is_validated():
    spec = parse_spec({"grid": {"loss": "cl", "seeds": 3}})  # scalars and a seed count are accepted
    assert spec.grid.loss == ["cl"] and spec.grid.seeds == [0, 1, 2] and spec.retries == 1
    with pytest.raises(ValueError, match="settings.epochs"):
        parse_spec({**SMALL, "settings": {"epochs": 3}})  # unknown keys are refused
    with pytest.raises(ValueError, match="grid.seeds"):
        parse_spec({"grid": {"loss": "das", "seeds": [-1]}})
    with pytest.raises(ValueError, match="Unknown loss 'mse'"):
        expand(parse_spec({"grid": {"loss": ["das", "mse"], "seeds": 1}}))


# ---- local vs Ray, and resuming ---------------------------------------------------------------------
@needs_ray
def test_local_and_ray_give_the_same_numbers_and_a_rerun_skips_every_cell(tmp_path):
    from graph.api import Graph

    spec = parse_spec(SMALL)
    local_graph, ray_graph = Graph(str(tmp_path / "local.db")), Graph(str(tmp_path / "ray.db"))
    local = run_sweep(spec, "local", graph=local_graph, workers=2, progress=False)
    ray_report = run_sweep(spec, "ray", graph=ray_graph, workers=2, progress=False)

    for report, graph in ((local, local_graph), (ray_report, ray_graph)):
        assert report.counts()["finished"] == 6 and not report.failed
        runs = graph.nodes(kind="run")
        assert len(runs) == 6 and {r.attrs["status"] for r in runs} == {"finished"}
        assert sorted(r.id for r in runs) == sorted(c.run_id for c in report.cells)
    assert ray_report.backend["backend"] == "ray" and ray_report.backend["address"] == "local (127.0.0.1)"
    assert [_numbers(c) for c in local.cells] == [_numbers(c) for c in ray_report.cells]  # bit for bit
    assert local.groups() == ray_report.groups()

    events = []
    again = run_sweep(spec, "local", graph=local_graph, workers=2, progress=False,
                      on_event=lambda kind, cell: events.append(kind))
    assert events == ["skipped"] * 6 and again.counts()["skipped"] == 6
    assert again.backend == {"backend": "local"}  # nothing to run: no pool was even started
    assert [c.run_id for c in again.cells] == [c.run_id for c in local.cells]
    assert again.groups() == [dict(g, finished=0, skipped=g["finished"]) for g in local.groups()]
    assert len(local_graph.nodes(kind="run")) == 6
    assert "6 skipped" in format_report(again)


# ---- a failing cell ------------------------------------------------------------------------------------
def test_a_failing_cell_is_reported_and_the_others_finish(tmp_path, monkeypatch):
    from graph.api import Graph

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps({**SMALL, "grid": {**SMALL["grid"], "epsilon": [100]}}), encoding="utf-8")
    db = str(tmp_path / "sweep.db")
    monkeypatch.setenv(FAIL_HOOK_ENV, "loss=das+cl,seed=1")  # this cell raises inside its worker, every time
    result = CliRunner().invoke(cli(db), ["sweep", str(spec_path), "--workers", "2", "--json", "--quiet"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["finished"] == 3 and report["counts"]["failed"] == 1
    (bad,) = [c for c in report["cells"] if c["status"] == "failed"]
    assert (bad["loss"], bad["seed"], bad["attempts"]) == ("das+cl", 1, 2)  # first try + 1 retry
    assert "RuntimeError: injected failure" in bad["error"]

    runs = {r.id: r for r in Graph(db).nodes(kind="run")}
    assert runs[bad["run_id"]].attrs["status"] == "failed"
    assert "injected failure" in runs[bad["run_id"]].attrs["error"]
    assert sum(r.attrs["status"] == "finished" for r in runs.values()) == 3

    # resuming runs only the failed cell; without the fault it finishes
    monkeypatch.delenv(FAIL_HOOK_ENV)
    result = CliRunner().invoke(cli(db), ["sweep", str(spec_path), "--workers", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "1 finished, 3 skipped" in result.stdout
    cells, _ = plan_sweep(parse_spec(json.loads(spec_path.read_text())), Graph(db))
    assert [c.status for c in cells] == ["skipped"] * 4


def test_dry_run_lists_cells_and_bad_options_exit_cleanly(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps(SMALL), encoding="utf-8")
    runner = CliRunner()
    dry = runner.invoke(cli(str(tmp_path / "a.db")), ["sweep", str(spec_path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "6 cells (2 duplicate grid points merged), 6 to run" in dry.stdout
    bad = runner.invoke(cli(str(tmp_path / "a.db")), ["sweep", str(spec_path), "--backend", "slurm"])
    assert bad.exit_code == 1 and "unknown backend 'slurm'" in bad.output
    spec_path.write_text("task: synthetic\ngrid: {loss: das, seeds: 1}\nworkers: 3\n", encoding="utf-8")
    bad = runner.invoke(cli(str(tmp_path / "a.db")), ["sweep", str(spec_path)])
    assert bad.exit_code == 1 and "workers: Extra inputs are not permitted" in bad.output


# ---- one config hash: shown by --dry-run, stored on the run, found by `findings runs --hash` -----------
def test_the_hash_a_dry_run_prints_is_the_key_the_run_is_stored_and_found_under(tmp_path):
    from app.cli import app

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps({"grid": {"loss": "das", "seeds": [0]}, "settings": TINY}), encoding="utf-8")
    runner = CliRunner()
    dry = runner.invoke(app, ["sweep", str(spec_path), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    (cell,) = json.loads(dry.stdout)["cells"]
    key = cell["config_hash"]
    assert f"[{key}]" in runner.invoke(app, ["sweep", str(spec_path), "--dry-run"]).stdout

    ran = runner.invoke(app, ["sweep", str(spec_path), "--workers", "1", "--quiet", "--json"])
    assert ran.exit_code == 0, ran.output
    (done,) = json.loads(ran.stdout)["cells"]
    assert done["config_hash"] == key and done["status"] == "finished"
    stored = json.loads(runner.invoke(app, ["show", done["run_id"], "--json"]).stdout)["attrs"]
    assert stored["config_hash"] == key

    found = runner.invoke(app, ["runs", "--hash", key, "--json"])
    assert found.exit_code == 0, found.output
    assert [(r["id"], r["status"], r["config_hash"]) for r in json.loads(found.stdout)] == [
        (done["run_id"], "finished", key)]
    assert done["run_id"] in runner.invoke(app, ["runs", "--hash", key]).stdout
    assert json.loads(runner.invoke(app, ["runs", "--hash", "0" * 16, "--json"]).stdout) == []
    again = json.loads(runner.invoke(app, ["sweep", str(spec_path), "--dry-run", "--json"]).stdout)
    assert [(c["config_hash"], c["status"]) for c in again["cells"]] == [(key, "recorded")]


# ---- SIGTERM while cells are open, after others closed out of order -------------------------------------
OUT_OF_ORDER_DRIVER = """
import os, signal, sys, time
from types import SimpleNamespace

import engine.sweep as sweep
from graph.api import Graph

driver = sys.modules[sweep.run_sweep.__module__]


class OutOfOrder:
    \"\"\"Three cells in flight; the first submitted finishes first, then the driver gets SIGTERM.\"\"\"

    slots = 3

    def __init__(self):
        self.submitted, self.waits = [], 0

    def describe(self):
        return {"backend": "out-of-order"}

    def submit(self, cell):
        self.submitted.append(cell)
        return cell.index

    def wait(self, handles, timeout):
        self.waits += 1
        if self.waits == 1:
            first = self.submitted[0]
            return [(first.index, SimpleNamespace(ok=True, payload=sweep.run_cell(first.config)))]
        print("sending SIGTERM", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        return []

    def cancel(self, handles):
        pass

    def close(self, abort=False):
        pass


driver.make_backend = lambda *args, **kwargs: OutOfOrder()
spec = sweep.parse_spec({"grid": {"loss": "das", "seeds": [0, 1, 2]}, "settings": %(settings)r, "retries": 0})
sweep.run_sweep(spec, graph=Graph(sys.argv[1]), progress=False)
print("the sweep was not stopped", flush=True)
"""
MINIMAL = {"max_epochs": 2, "patience": 1, "samples_per_class": 4, "train_interventions": 5,
           "eval_interventions": 5, "classifier_epochs": 2, "classifier_patience": 1}


def test_sigterm_after_cells_finish_out_of_order_fails_every_open_run_and_exits_1(tmp_path):
    from graph.api import Graph

    script = tmp_path / "driver.py"
    script.write_text(OUT_OF_ORDER_DRIVER % {"settings": MINIMAL}, encoding="utf-8")
    db = tmp_path / "sweep.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(script), str(db)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert "sending SIGTERM" in proc.stdout, proc.stderr[-3000:]
    runs = sorted(Graph(str(db)).nodes(kind="run"), key=lambda r: r.attrs["started_at"] + r.id)
    statuses = sorted(r.attrs["status"] for r in runs)
    assert statuses == ["failed", "failed", "finished"], (statuses, proc.returncode, proc.stderr[-2000:])
    for run in runs:
        if run.attrs["status"] == "failed":
            assert "SIGTERM" in run.attrs["error"]
        else:
            assert run.attrs["findings"] > 0
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "stopped by signal SIGTERM: marked 2 open run(s) failed" in proc.stderr


def test_the_sweep_command_module_is_light():
    code = ("import sys, app.commands.sweep; "
            "print(*(m in sys.modules for m in ('torch', 'ray', 'engine.sweep', 'engine.protocol')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"] * 4


# ---- Boundless DAS cells -----------------------------------------------------------------------------------
TINY_LM = {"steps": 250, "batch_size": 8, "n_layer": 2, "n_embd": 16, "n_head": 2, "eval_size": 200,
           "min_accuracy": 0}
BOUNDLESS = {"task": "boundless", "grid": {"epsilon": [0, 1], "seeds": 2, "protocol": ["grant2025"]},
             "settings": {"epochs": 2, "batch_size": 16, "train_pairs": 128, "test_pairs": 60, "tiny_model": TINY_LM},
             "retries": 0, "resources": {"num_cpus": 1, "num_gpus": 0}}


def _boundless_numbers(cell) -> dict:
    data = json.loads(json.dumps(cell.data))
    for key in ("wall_seconds", "prepare_seconds", "extra"):
        data.pop(key, None)
    for row in data["runs"]:
        row.pop("train_seconds")
    return data


@needs_ray
def test_boundless_cells_give_the_same_numbers_on_local_and_ray_and_are_recorded(tmp_path, monkeypatch):
    from graph.api import Graph

    monkeypatch.setenv("FINDINGS_CACHE", str(tmp_path / "cache"))  # a cold cache: the driver trains it once
    spec = parse_spec(BOUNDLESS)
    cells, _ = expand(spec)
    assert [c.label for c in cells][:2] == ["grant2025 CL cl-prompt/full ε=0 seed 0",
                                            "grant2025 CL cl-prompt/full ε=0 seed 1"]
    local_graph, ray_graph = Graph(str(tmp_path / "local.db")), Graph(str(tmp_path / "ray.db"))
    local = run_sweep(spec, "local", graph=local_graph, workers=2, progress=False)
    ray_report = run_sweep(spec, "ray", graph=ray_graph, workers=2, progress=False)
    for report, graph in ((local, local_graph), (ray_report, ray_graph)):
        assert report.counts()["finished"] == 4 and not report.failed
        runs = graph.nodes(kind="run")
        assert {r.attrs["status"] for r in runs} == {"finished"} and len(runs) == 4
    assert [_boundless_numbers(c) for c in local.cells] == [_boundless_numbers(c) for c in ray_report.cells]
    (group0, group1) = local.groups()
    assert (group0["epsilon"], group0["protocol"], len(group0["seeds"])) == (0, "grant2025", 2)
    assert set(group1["test"]) >= {"iia", "iia_argmax", "grant2025_geomloss_zscored_per_sqrt_d"}
    # each cell's run holds its findings, named by protocol, CL target and space
    run = local_graph.show(local.cells[2].run_id)
    assert run["attrs"]["result"]["runs"][0]["epsilon"] == 1.0  # the whole result stays on the run
    first = next(e["node"]["id"] for e in run["edges"] if e["type"] == "produced_by")
    cond = local_graph.show(first)["measurements"][0]["conditions"]
    assert (cond["protocol"], cond["cl_target"], cond["cl_space"], cond["epsilon"]) == (
        "grant2025", "cl-prompt", "full", 1.0)
    again = run_sweep(spec, "local", graph=local_graph, workers=2, progress=False)
    assert again.counts()["skipped"] == 4 and again.groups() == [
        dict(g, finished=0, skipped=g["finished"]) for g in local.groups()]


CELL_NUMBERS = """
import json, sys
from engine.sweep import expand, parse_spec, run_cell
cell = expand(parse_spec({"grid": {"loss": ["das"], "seeds": [0]}, "settings": %(settings)r}))[0][0]
print(json.dumps(run_cell(cell.config)["data"]["train"], sort_keys=True))
"""


def test_a_cell_gives_the_same_numbers_whatever_threads_its_process_started_with(tmp_path):
    """A cell in the caller's own process (numeric libraries at their default threads) equals the same cell in
    a process started with one thread everywhere (a Ray worker, a pool process), to the last digit."""
    script = tmp_path / "cell.py"
    script.write_text(CELL_NUMBERS % {"settings": MINIMAL}, encoding="utf-8")
    free = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                               "MKL_NUM_THREADS")}
    single = {**free, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = [subprocess.run([sys.executable, str(script)], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300, check=True).stdout for env in (free, single)]
    assert out[0] == out[1] and json.loads(out[0])
