"""`findings run synthetic` records by default: a run node, findings, replication edges, failure on kill."""
import json
import os
import signal
import subprocess
import sys
import time

from typer.testing import CliRunner

from app.cli import app
from tests.conftest import ROOT

TINY = ["--seeds", "1", "--max-epochs", "20", "--patience", "10", "--samples-per-class", "12",
        "--train-interventions", "30", "--eval-interventions", "30", "--classifier-epochs", "15",
        "--workers", "1", "--quiet"]


def test_a_recorded_run_becomes_findings_and_rerecording_adds_nothing(seeded_db):
    runner = CliRunner()
    started = time.monotonic()
    result = runner.invoke(app, ["run", "synthetic", "--partition", "og_holdouts", "--loss", "cl", "--json", *TINY])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    runs = json.loads(runner.invoke(app, ["runs", "--json"]).stdout)
    (run,) = runs
    assert run["status"] == "finished" and run["findings"] == 8  # 2 splits × (IIA + 3 divergence measures)
    assert 0 < run["duration_s"] <= elapsed + 1  # the run's own time, inside the command's
    shown = json.loads(runner.invoke(app, ["show", run["id"], "--json"]).stdout)
    assert shown["attrs"]["config"]["partition"] == "og_holdouts" and shown["attrs"]["site"] == "synthetic10.input"
    assert {"code_version", "packages", "device", "started_at", "ended_at"} <= set(shown["attrs"])
    findings = [e["node"] for e in shown["edges"] if e["type"] == "produced_by"]
    assert len(findings) == 8
    cross_iia = next(f for f in findings if "cross IIA" in f["title"])
    data = json.loads(runner.invoke(app, ["show", cross_iia["id"], "--json"]).stdout)
    (m,) = data["measurements"]
    assert m["metric"] == "IIA" and m["err_kind"] == "sem" and m["conditions"]["partition"] == "og_holdouts"
    assert (m["measure"], m["conditions"]["protocol"]) == ("iia_argmax", "engine")
    # the published CL IIA was measured under the paper's protocol: no verdict, and show says why
    assert not {e["type"] for e in data["edges"]} & {"replicates", "fails_to_replicate"}
    (nc,) = data["attrs"]["not_compared"]
    assert nc["value"] == 0.9988 and nc["reason"] == "different protocol: run engine, published grant2025"
    before = json.loads(runner.invoke(app, ["stats", "--json"]).stdout)
    again = runner.invoke(app, ["run", "synthetic", "--partition", "og_holdouts", "--loss", "cl", "--json", *TINY])
    assert again.exit_code == 0 and "already recorded" in again.stderr
    assert json.loads(again.stdout)["cross"]["iia"]["mean"] == m["value"]
    assert json.loads(runner.invoke(app, ["stats", "--json"]).stdout) == before


PAPER_TINY = ["--protocol", "grant2025", "--seeds", "1", "--patience", "8", "--interventions-per-class", "30",
              "--classifier-epochs", "20", "--workers", "1", "--quiet"]


def test_a_grant2025_run_is_judged_like_for_like_and_names_each_floor(seeded_db):
    runner = CliRunner()
    result = runner.invoke(app, ["run", "synthetic", "--loss", "cl", "--json", *PAPER_TINY])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    paper = summary["cross"]["grant2025_geomloss_sinkhorn"]
    assert summary["protocol"] == "grant2025" and paper["n_points"] == [240, 240]  # 8 classes × 30
    assert set(paper["floor"]) == {"mean", "sem", "n"} and paper["floor"]["n"] == 2
    (run,) = json.loads(runner.invoke(app, ["runs", "--json"]).stdout)
    shown = json.loads(runner.invoke(app, ["show", run["id"], "--json"]).stdout)
    by_title = {e["node"]["title"]: e["node"]["id"] for e in shown["edges"] if e["type"] == "produced_by"}
    verdicts, refused = {}, {}
    for title, fid in by_title.items():
        data = json.loads(runner.invoke(app, ["show", fid, "--json"]).stdout)
        (m,) = data["measurements"]
        if m["split"] != "cross":
            continue
        edges = [e for e in data["edges"] if e["type"] in ("replicates", "fails_to_replicate")]
        if edges:
            verdicts[m["measure"]] = edges[0]["attrs"]
        for nc in data["attrs"].get("not_compared", []):
            refused[m["measure"]] = nc["reason"]
        if m["metric"] == "EMD":
            assert m["floor"] == summary["cross"][m["measure"]]["floor"]
    assert set(verdicts) == {"iia_argmax", "grant2025_geomloss_sinkhorn"}
    assert verdicts["grant2025_geomloss_sinkhorn"]["published_value"] == 0.007
    assert verdicts["grant2025_geomloss_sinkhorn"]["floor"] == paper["floor"]
    assert refused == {m: f"different measure: run {m}, published grant2025_geomloss_sinkhorn"
                       for m in ("sinkhorn_converged_matched", "exact_emd_matched")}


def test_killing_a_run_halfway_leaves_a_failed_run_and_no_findings(seeded_db):
    slow = [*TINY]
    slow[slow.index("--max-epochs") + 1] = "100000"
    slow[slow.index("--patience") + 1] = "100000"
    proc = subprocess.Popen([sys.executable, "-m", "app", "run", "synthetic", "--loss", "das", *slow],
                            cwd=ROOT, env={**os.environ, "FINDINGS_DB": str(seeded_db)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    from graph.api import Graph

    g = Graph(str(seeded_db))
    while time.time() < deadline and not g.nodes(kind="run"):
        time.sleep(0.5)
    time.sleep(3)  # well inside training
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    (run,) = g.nodes(kind="run")
    assert run.attrs["status"] == "failed" and "SIGTERM" in run.attrs["error"]
    findings = [n for n in g.nodes(kind="finding") if n.attrs.get("run") == run.id]
    assert findings == []
