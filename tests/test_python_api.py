"""Results from the researcher's own code: ``findings.run`` in a script run as a user runs it, and
``findings import-results`` on per-seed files — the engine's lifecycle, provenance and like-for-like verdicts."""
from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from typer.testing import CliRunner

from app.cli import app

CL_IIA_PUBLISHED = ("finding:modified-cl-loss-achieves-iia-of-0-9988-0-0005-on-synthetic-10-class-dataset-"
                    "training-test-sets")
PREAMBLE = """\
import json
import findings

COND = {"task": "synthetic10", "partition": "og_holdouts", "loss": "cl", "map": "linear"}
IIA = dict(metric="IIA", err_kind="sem", n=10, measure="iia_argmax", split="cross", dataset="synthetic10",
           method="CL", conditions=COND)
out = {}
"""
SCRIPT = PREAMBLE + """\
with findings.run(config={"lr": 1e-3, "layer": 1}, protocol="grant2025", title="my pyvene DAS on synthetic10",
                  seeds=[0, 1, 2]) as run:
    out["a_state_inside"] = run.run_id
    run.record(value=0.9986, err=0.0004, **IIA)                       # (a) agrees with 0.9988±0.0005
out["a"] = run.report

with findings.run(config={"lr": 1e-2}, protocol="grant2025", seeds=[0]) as run:
    run.record(value=0.95, err=0.01, **IIA)                           # (b) far below
out["b"] = run.report

with findings.run(config={"lr": 1e-3, "probe": "mlp"}, protocol="grant2025") as run:
    run.record(metric="IIA", value=0.9986, err=0.0004, err_kind="sem", n=10, measure="iia_yes_no_logit",
               split="cross", dataset="synthetic10", method="CL", conditions=COND)   # (c) another measure
out["c_measure"] = run.report
with findings.run(config={"lr": 1e-3}, protocol="engine") as run:
    run.record(value=0.9986, err=0.0004, **IIA)                       # (c) another protocol
out["c_protocol"] = run.report

try:
    with findings.run(config={"crash": True}, protocol="grant2025") as run:
        out["crash_run"] = run.run_id
        run.record(value=0.9986, err=0.0004, **IIA)
        raise RuntimeError("the training loop diverged")
except RuntimeError as exc:
    out["crash_error"] = str(exc)

try:
    with findings.run(config={"interrupted": True}) as run:
        out["interrupted_run"] = run.run_id
        raise KeyboardInterrupt
except KeyboardInterrupt:
    out["interrupted"] = True

bad = [dict(IIA, value=float("nan")), dict(IIA, value=0.5, err=-0.1), dict(IIA, value=0.5, err_kind="var", err=0.1),
       dict(IIA, value=0.5, measure="no_such_measure"), dict(IIA, value=0.5, measure="exact_emd_matched"),
       dict(IIA, value=0.5, metric=""), dict(IIA, value=0.5, conditions={"layer": [1, 2]}),
       dict(IIA, value=0.5, conditions={**COND, "protocol": "engine"}), dict(IIA, value="high")]
out["bad"] = []
with findings.run(config={"bad": True}, protocol="grant2025") as run:
    out["bad_run"] = run.run_id
    for kwargs in bad:
        try:
            run.record(**kwargs)
            out["bad"].append(None)
        except ValueError as exc:
            out["bad"].append(str(exc))
    out["bad_kept"] = len(run.results)
for kwargs in (dict(config={"x": object()}), dict(protocol=""), dict(seeds=["zero"])):
    try:
        findings.run(**kwargs)
        out.setdefault("bad_run_args", []).append(None)
    except ValueError as exc:
        out.setdefault("bad_run_args", []).append(str(exc))

with findings.run(config={"lr": 1e-3, "layer": 1}, protocol="grant2025", title="the same again",
                  seeds=[0, 1, 2]) as run:                            # identical config, script and seeds
    out["again"] = {"already_recorded": run.already_recorded, "run_id": run.run_id}
    run.record(value=0.9986, err=0.0004, **IIA)
out["again"]["report"] = run.report

with findings.run(config={"pooled": True}, protocol="grant2025", seeds=[0, 1, 2]) as run:
    run.record_seeds(metric="IIA", values=[0.9990, 0.9985, 0.9992], measure="iia_argmax", split="cross",
                     dataset="synthetic10", method="CL", conditions=COND)
    run.record_seeds(metric="IIA", values=[0.9990], measure="iia_argmax", split="train", dataset="synthetic10",
                     method="CL", conditions=COND, title="one seed")
out["seeds"] = run.report
print(json.dumps(out))
"""


def _graph(db):
    from graph.api import Graph

    return Graph(str(db))


def _edges(graph, node_id):
    return {(e["type"], e["node"]["id"]) for e in graph.show(node_id)["edges"]}


def _claims_of(graph, published):
    return {nid for t, nid in _edges(graph, published) if t == "supports" and nid.startswith("claim:")}


def _run_script(tmp_path, text, name="my_experiment.py"):
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    script = proj / name
    script.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=proj, timeout=240,
                          check=False, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return script, json.loads(proc.stdout), proc.stderr


@pytest.fixture
def api_run(seeded_db, tmp_path):
    """The user's script, run once in a git checkout of its own (committed, then left clean)."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "my_experiment.py").write_text(SCRIPT, encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for cmd in (["init", "-q"], ["add", "my_experiment.py"], ["commit", "-q", "-m", "experiment"]):
        subprocess.run([*git, *cmd], cwd=proj, check=True, capture_output=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=proj, capture_output=True, text=True,
                            check=True).stdout.strip()
    script, out, stderr = _run_script(tmp_path, SCRIPT)
    return {"graph": _graph(seeded_db), "out": out, "script": script, "commit": commit, "stderr": stderr,
            "db": seeded_db}


def test_import_findings_loads_neither_torch_nor_the_store(tmp_path):
    code = ("import sys, findings; print(sorted(m for m in ('torch', 'sqlalchemy', 'sentence_transformers', "
            "'transformers', 'numpy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "[]"), proc.stderr


def test_a_result_that_agrees_replicates_and_supports_the_claim(api_run):
    graph, out = api_run["graph"], api_run["out"]
    (fid,) = out["a"]["findings"]
    edges = _edges(graph, fid)
    assert ("replicates", CL_IIA_PUBLISHED) in edges and ("produced_by", out["a"]["run_id"]) in edges
    claims = _claims_of(graph, CL_IIA_PUBLISHED)
    assert claims and {("supports", c) for c in claims} <= edges
    (v,) = out["a"]["replications"]
    assert (v["run_value"], v["published_value"], v["measure"]) == (0.9986, 0.9988, "iia_argmax")
    assert v["z"] == pytest.approx(0.0002 / math.sqrt(0.0004**2 + 0.0005**2), abs=1e-3)
    m = graph.show(fid)["measurements"][0]
    assert (m["value"], m["err"], m["err_kind"], m["n"], m["measure"]) == (0.9986, 0.0004, "sem", 10, "iia_argmax")
    assert m["conditions"]["protocol"] == "grant2025" and m["conditions"]["partition"] == "og_holdouts"
    title = graph.get(fid).title
    assert title.startswith("CL achieves cross IIA of 0.99860±0.00040 (iia_argmax) on synthetic10 (grant2025 protocol")


def test_a_result_that_disagrees_fails_to_replicate_and_contradicts(api_run):
    graph, out = api_run["graph"], api_run["out"]
    (fid,) = out["b"]["findings"]
    edges = _edges(graph, fid)
    assert ("fails_to_replicate", CL_IIA_PUBLISHED) in edges and ("replicates", CL_IIA_PUBLISHED) not in edges
    assert {("contradicts", c) for c in _claims_of(graph, CL_IIA_PUBLISHED)} <= edges
    assert out["b"]["replications"][0]["edge"] == "fails_to_replicate"


@pytest.mark.parametrize("case, reason", [
    ("c_measure", "different measure: run iia_yes_no_logit, published iia_argmax"),
    ("c_protocol", "different protocol: run engine, published grant2025"),
])
def test_another_measure_or_protocol_is_not_compared_with_its_reason(api_run, case, reason):
    graph, report = api_run["graph"], api_run["out"][case]
    (fid,) = report["findings"]
    assert report["replications"] == []
    assert [(nc["published"], nc["reason"]) for nc in report["not_compared"]] == [(CL_IIA_PUBLISHED, reason)]
    assert graph.get(fid).attrs["not_compared"][0]["reason"] == reason
    assert not {t for t, _ in _edges(graph, fid)} & {"replicates", "fails_to_replicate", "supports", "contradicts"}


def test_the_run_records_the_callers_code_and_where_it_ran(api_run):
    graph, out, script = api_run["graph"], api_run["out"], api_run["script"]
    run = graph.get(out["a"]["run_id"])
    a = run.attrs
    assert run.title == "my pyvene DAS on synthetic10" and run.source["api"] == "findings.run"
    assert (a["status"], a["findings"], a["seeds"], a["protocol"]) == ("finished", 1, [0, 1, 2], "grant2025")
    assert a["config"] == {"lr": 1e-3, "layer": 1} and out["a_state_inside"] == run.id
    assert a["code"]["kind"] == "script" and a["code"]["path"] == str(script.resolve())
    assert a["code"]["sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    assert a["code_version"] == a["code"]["identity"] and len(a["code_version"]) == 32
    assert (a["git_commit"], a["git_dirty"], a["git_root"]) == (api_run["commit"], False, str(script.parent))
    assert a["packages"]["findings-explorer"] and a["pid"] > 0 and a["host"] and a["python"]
    assert a["duration_s"] is not None and a["ended_at"] >= a["started_at"]
    listed = CliRunner().invoke(app, ["runs", "--hash", a["config_hash"], "--json"])
    assert [r["id"] for r in json.loads(listed.stdout)] == [run.id]


def test_an_exception_or_ctrl_c_fails_the_run_and_writes_no_finding(api_run):
    graph, out = api_run["graph"], api_run["out"]
    assert out["crash_error"] == "the training loop diverged" and out["interrupted"] is True
    crashed, interrupted = graph.get(out["crash_run"]), graph.get(out["interrupted_run"])
    assert crashed.attrs["status"] == "failed" and crashed.attrs["error"] == "RuntimeError: the training loop diverged"
    assert interrupted.attrs["status"] == "failed" and interrupted.attrs["error"].startswith("KeyboardInterrupt")
    for run_id in (crashed.id, interrupted.id):
        assert not [t for t, _ in _edges(graph, run_id) if t == "produced_by"]
    assert f"run {crashed.id} marked failed (RuntimeError)" in api_run["stderr"]


def test_bad_input_raises_at_once_and_is_never_written(api_run):
    graph, out = api_run["graph"], api_run["out"]
    bad = out["bad"]
    assert None not in bad and out["bad_kept"] == 0
    assert "finite" in bad[0] and "err must be ≥ 0" in bad[1] and "err_kind" in bad[2]
    assert "unknown measure 'no_such_measure'" in bad[3] and bad[4] == "measure exact_emd_matched measures EMD, not IIA"
    assert "metric must be a non-empty string" in bad[5] and "condition 'layer'" in bad[6]
    assert "contradicts the run's protocol 'grant2025'" in bad[7] and "value must be a number" in bad[8]
    assert all(len(msg.splitlines()) == 1 for msg in bad)
    run = graph.get(out["bad_run"])
    assert (run.attrs["status"], run.attrs["findings"]) == ("finished", 0)
    assert "config must hold JSON values only" in out["bad_run_args"][0]
    assert "protocol must be a non-empty string" in out["bad_run_args"][1]
    assert "seeds must be whole numbers" in out["bad_run_args"][2]
    # eight blocks opened a run (a, b, two of c, the crash, Ctrl-C, bad, pooled); bad arguments and the repeat none
    assert len(graph.nodes(kind="run")) == 8


def test_the_same_script_config_and_seeds_are_not_recorded_twice(api_run):
    graph, out = api_run["graph"], api_run["out"]
    again = out["again"]
    assert again["already_recorded"] is True and again["run_id"] == out["a"]["run_id"]
    assert again["report"] == {"run_id": out["a"]["run_id"], "findings": [], "replications": [], "not_compared": [],
                               "already_recorded": True}
    assert "already recorded as " + out["a"]["run_id"] in api_run["stderr"]
    assert not [n for n in graph.nodes(kind="run") if n.title == "the same again"]
    replicating = [t for t, _ in _edges(graph, CL_IIA_PUBLISHED) if t == "replicates"]
    assert len(replicating) == 2  # (a) and the pooled seeds below, not the repeat


def test_record_seeds_pools_to_mean_and_sem(api_run):
    graph, report = api_run["graph"], api_run["out"]["seeds"]
    pooled, single = (graph.show(f)["measurements"][0] for f in report["findings"])
    # by hand: mean (0.9990 + 0.9985 + 0.9992) / 3 = 0.9989; deviations 1e-4, -4e-4, 3e-4; s² = 26e-8 / 2
    assert pooled["value"] == pytest.approx(0.9989, abs=1e-12) and pooled["n"] == 3 and pooled["err_kind"] == "sem"
    assert pooled["err"] == pytest.approx(math.sqrt(13e-8 / 3), rel=1e-9)
    assert (single["value"], single["err"], single["err_kind"], single["n"]) == (0.9990, None, None, 1)
    assert graph.get(report["findings"][1]).title == "one seed"
    assert report["replications"][0]["edge"] == "replicates"


def test_in_a_notebook_every_run_is_recorded(seeded_db, tmp_path, monkeypatch):
    import types

    import findings

    notebook = tmp_path / "das.ipynb"
    notebook.write_text('{"cells": []}', encoding="utf-8")
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    ids = []
    for _ in range(2):  # the same config twice: cells may have changed without the file changing
        with findings.run(config={"lr": 1e-3}, protocol="grant2025") as run:
            assert run.already_recorded is False
            run.record(metric="IIA", value=0.99, err=0.001, err_kind="sem", n=3, measure="iia_argmax")
        ids.append(run.run_id)
    graph = _graph(seeded_db)
    runs = [graph.get(i) for i in ids]
    assert ids[0] != ids[1] and all(r.attrs["status"] == "finished" and r.attrs["findings"] == 1 for r in runs)
    code = runs[0].attrs["code"]
    assert (code["kind"], code["path"], runs[0].attrs["code_version"]) == ("notebook", str(notebook.resolve()), None)
    assert code["sha256"] == hashlib.sha256(notebook.read_bytes()).hexdigest()


def test_sigterm_inside_the_block_fails_the_run(seeded_db, tmp_path):
    script = tmp_path / "long.py"
    script.write_text(textwrap.dedent("""\
        import sys, time, findings
        with findings.run(config={"long": True}) as run:
            print(run.run_id, flush=True)
            time.sleep(60)
    """), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=dict(os.environ))
    try:
        run_id = proc.stdout.readline().strip()
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    run = _graph(seeded_db).get(run_id)
    assert run.attrs["status"] == "failed" and run.attrs["error"] == "RunInterrupted: stopped by signal SIGTERM"


# ---- findings import-results --------------------------------------------------------------------
HEADER = "metric,value,seed,measure,split,dataset,method,task,partition,loss,map,epsilon\n"
CL = "synthetic10,og_holdouts,cl,linear"
PER_SEED = HEADER + "".join([
    f"IIA,0.9990,0,iia_argmax,cross,synthetic10,CL,{CL},\n",
    f"IIA,0.9985,1,iia_argmax,cross,synthetic10,CL,{CL},\n",
    f"IIA,0.9992,2,iia_argmax,cross,synthetic10,CL,{CL},\n",
    "IIA,0.9500,0,iia_argmax,cross,synthetic10,CL,synthetic10,og_holdouts,das+cl,linear,100\n",
    f"EMD,0.0101,0,exact_emd_matched,cross,synthetic10,CL,{CL},\n",
    f"EMD,0.0120,1,exact_emd_matched,cross,synthetic10,CL,{CL},\n",
])


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def _export():
    result = invoke("export", "--format", "json")
    assert result.exit_code == 0
    return result.stdout


def test_import_results_pools_per_seed_rows_and_draws_verdicts(seeded_db, tmp_path):
    path = tmp_path / "results.csv"
    path.write_text(PER_SEED, encoding="utf-8")
    result = invoke("import-results", str(path), "--protocol", "grant2025", "--title", "my DAS sweep", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    iia, single, emd = report["groups"]
    # by hand: IIA mean 0.9989, SEM √(26e-8 / 2 / 3); EMD mean 0.01105, SEM |0.0120 − 0.0101| / 2
    assert (iia["metric"], iia["n"], iia["seeds"]) == ("IIA", 3, [0, 1, 2])
    assert iia["mean"] == pytest.approx(0.9989, abs=1e-12) and iia["sem"] == pytest.approx(math.sqrt(13e-8 / 3))
    assert (single["n"], single["sem"], single["conditions"]["epsilon"]) == (1, None, 100)
    assert emd["mean"] == pytest.approx(0.01105) and emd["sem"] == pytest.approx(0.00095) and emd["n"] == 2
    graph = _graph(seeded_db)
    m = graph.show(report["findings"][0])["measurements"][0]
    assert (m["err_kind"], m["n"], m["conditions"]["protocol"], m["measure"]) == ("sem", 3, "grant2025", "iia_argmax")
    assert m["err"] == pytest.approx(math.sqrt(13e-8 / 3))
    assert graph.show(report["findings"][1])["measurements"][0]["err"] is None
    assert [(v["finding"], v["published"], v["edge"]) for v in report["replications"]] == [
        (report["findings"][0], CL_IIA_PUBLISHED, "replicates")]
    assert {("supports", c) for c in _claims_of(graph, CL_IIA_PUBLISHED)} <= _edges(graph, report["findings"][0])
    (nc,) = report["not_compared"]  # the engine's exact EMD is not the paper's measure
    assert nc["finding"] == report["findings"][2]
    assert nc["reason"].startswith("different measure: run exact_emd_matched")
    run = graph.get(report["run_id"])
    a = run.attrs
    assert (run.title, a["status"], a["findings"], a["seeds"]) == ("my DAS sweep", "finished", 3, [0, 1, 2])
    assert a["code"]["kind"] == "results file" and a["code"]["path"] == str(path.resolve())
    assert a["code"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert run.source["api"] == "import-results"


def test_import_results_prints_the_table_and_twice_adds_nothing(seeded_db, tmp_path):
    path = tmp_path / "results.json"
    rows = [{"metric": "IIA", "value": v, "seed": s, "measure": "iia_argmax", "split": "cross",
             "dataset": "synthetic10", "method": "CL", "task": "synthetic10", "partition": "og_holdouts",
             "loss": "cl", "map": "linear"}
            for s, v in enumerate([0.9990, 0.9985, 0.9992])]
    path.write_text(json.dumps(rows), encoding="utf-8")
    first = invoke("import-results", str(path), "--protocol", "grant2025")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("recorded run:") and "0.9989" in first.stdout and "replicates: " in first.stdout
    before = _export()
    again = invoke("import-results", str(path), "--protocol", "grant2025")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("already recorded as run:") and "nothing added" in again.stdout
    assert _export() == before
    other = invoke("import-results", str(path), "--protocol", "engine", "--json")  # another protocol: a new run
    assert other.exit_code == 0 and json.loads(other.stdout)["already_recorded"] is False
    reason = json.loads(other.stdout)["not_compared"][0]["reason"]
    assert reason == "different protocol: run engine, published grant2025"


BAD_FILES = {
    "missing file": (None, "no such file"),
    "unknown measure": (HEADER + f"IIA,0.99,0,iia_max,cross,synthetic10,CL,{CL},\n", "unknown measure 'iia_max'"),
    "non-numeric value": (HEADER + f"IIA,high,0,iia_argmax,cross,synthetic10,CL,{CL},\n",
                          "line 2: value 'high' is not a finite number"),
    "missing column": ("metric,value,measure\nIIA,0.99,iia_argmax\n", "missing column 'seed'"),
    "duplicate seed": (PER_SEED + f"IIA,0.9991,1,iia_argmax,cross,synthetic10,CL,{CL},\n",
                       "line 8: seed 1 appears twice for IIA"),
    "an error column": ("metric,value,seed,err\nIIA,0.99,0,0.01\n", "column 'err' refused"),
    "wrong metric": (HEADER + f"EMD,0.01,0,iia_argmax,cross,synthetic10,CL,{CL},\n", "measures IIA, not EMD"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_exits_1_and_writes_nothing(seeded_db, tmp_path, case):
    text, message = BAD_FILES[case]
    path = tmp_path / "results.csv"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    before = _export()
    result = invoke("import-results", str(path), "--protocol", "grant2025")
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert _export() == before


def test_import_results_loads_no_torch(seeded_db, tmp_path):
    path = tmp_path / "results.csv"
    path.write_text(PER_SEED, encoding="utf-8")
    code = ("import sys\nfrom app import cli\nsys.argv = ['findings', 'import-results', sys.argv[1], '--json']\n"
            "try:\n    cli.main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('torch' in sys.modules, 'sentence_transformers' in sys.modules, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["findings"] and proc.stderr.strip().splitlines()[-1] == "False False"
