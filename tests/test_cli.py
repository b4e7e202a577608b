"""The `findings` CLI: the machine-readable contract, errors, and the import-cost promise."""
import csv
import io
import json
import subprocess
import sys
import zipfile
from collections import Counter

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests.conftest import ROOT, SEED_FINDING

runner = CliRunner()
PAPER = "paper:addressing-divergent-representations-from-causal-interventions-on-neural-networks"


def run(*args, ok=True):
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


def stored_totals() -> tuple[int, int]:
    counts = json.loads(run("stats", "--json").stdout)
    return sum(counts["nodes"].values()), sum(counts["edges"].values())


def test_seed_builds_the_graph_and_reseeding_adds_nothing(tmp_path):
    first = json.loads(run("seed", "--json").stdout)
    assert (first["nodes_added"], first["edges_added"]) == stored_totals()  # the database was empty before
    assert first["nodes_added"] > 50 and first["edges_added"] > 80
    assert any("orphan" in w or "no abstract" in w for w in first["warnings"])
    again = json.loads(run("seed", "--json").stdout)
    assert (again["nodes_added"], again["edges_added"]) == (0, 0)


def test_show_json_of_the_seed_finding(seeded_db):
    data = json.loads(run("show", SEED_FINDING, "--json").stdout)
    assert set(data) >= {"id", "kind", "title", "description", "status", "attrs", "measurements", "edges"}
    assert data["kind"] == "finding" and data["status"] == "active"
    assert data["title"].startswith("For small CL loss weights epsilon")
    by_type = {}
    for e in data["edges"]:
        assert set(e) >= {"type", "direction", "node"} and set(e["node"]) == {"id", "kind", "title"}
        by_type.setdefault(e["type"], []).append(e)
    (paper,) = by_type["extracted_from"]
    assert paper["node"]["title"] == "Addressing divergent representations from causal interventions on neural networks"
    paper_page = json.loads(run("show", paper["node"]["id"], "--json").stdout)
    assert paper_page["attrs"]["year"] == 2025
    assert len([e for e in paper_page["edges"] if e["type"] == "authored_by"]) == 4
    claim_types = {e["type"] for e in data["edges"] if e["node"]["kind"] == "claim"}
    assert claim_types == {"associated_with", "supports"}
    assert len(by_type["listed_similar"]) == 8
    scores = [e["attrs"].get("score") for e in by_type["listed_similar"]]
    assert 0.785 in scores and 0.764 in scores


def test_show_of_a_published_finding_has_its_measurement(seeded_db):
    hits = json.loads(run("search", "CL loss IIA 0.9988", "--kind", "finding", "--json").stdout)
    assert hits and set(hits[0]) == {"id", "kind", "title", "score", "evidence"}
    assert hits[0]["evidence"] == "untested"  # a published finding that no run has replicated yet
    data = json.loads(run("show", hits[0]["id"], "--json").stdout)
    assert data["evidence"] == {"status": "untested", "counts": {k: 0 for k in data["evidence"]["counts"]}}
    (m,) = data["measurements"]
    assert (m["metric"], m["value"], m["err"]) == ("IIA", 0.9988, 0.0005)
    assert set(m) >= {"metric", "value", "err", "err_kind", "n", "conditions"}


def test_stats_json(seeded_db):
    data = json.loads(run("stats", "--json").stdout)
    graph = json.loads(run("export", "--format", "json").stdout)
    assert data == {"nodes": dict(Counter(n["kind"] for n in graph["nodes"])),
                    "edges": dict(Counter(e["type"] for e in graph["edges"]))}
    assert data["nodes"]["paper"] >= 10 and data["nodes"]["author"] >= 20
    assert data["edges"]["in_category"] > 0 and data["edges"]["subcategory_of"] > 0


def test_add_link_and_neighbors(seeded_db):
    pid = run("add", "paper", "--title", "Probing with care", "--author", "Satchel Grant",
              "--author", "Ada Lovelace", "--year", "2026").stdout.strip()
    assert pid == "paper:probing-with-care"
    fid = run("add", "finding", "--title", "Probes overfit", "--paper", pid, "--metric", "accuracy",
              "--value", "0.81", "--err", "0.02", "--err-kind", "std", "--n", "5").stdout.strip()
    data = json.loads(run("show", fid, "--json").stdout)
    assert data["measurements"][0]["err_kind"] == "std" and data["measurements"][0]["n"] == 5
    # the existing author node is reused: one node per person
    authors = json.loads(run("search", "Satchel Grant", "--kind", "author", "--json").stdout)
    assert len(authors) == 1
    cid = run("add", "claim", "--title", "Probes need controls").stdout.strip()
    run("link", fid, "supports", cid)
    groups = json.loads(run("neighbors", fid, "--json").stdout)
    assert {g["type"] for g in groups} == {"extracted_from", "supports"}


def test_add_from_file(seeded_db, tmp_path):
    f = tmp_path / "claim.yaml"
    f.write_text("title: Rotations hide divergence\ndescription: from a yaml file\n")
    cid = run("add", "claim", "--from-file", str(f)).stdout.strip()
    assert json.loads(run("show", cid, "--json").stdout)["description"] == "from a yaml file"


@pytest.mark.parametrize("args, message", [
    (["link", SEED_FINDING, "cites", SEED_FINDING], "unknown edge type"),
    (["link", SEED_FINDING, "supports", "claim:does-not-exist"], "no node with id"),
    (["link", SEED_FINDING, "authored_by", PAPER], "authored_by goes from paper to author"),
    (["add", "finding", "--title", "x", "--paper", "paper:nope"], "no node with id 'paper:nope'"),
    (["add", "finding", "--title", "x", "--value", "0.5"], "--metric and --value go together"),
    (["show", "finding:nope"], "no node with id"),
    (["search", "x", "--kind", "theorem"], "unknown node kind"),
    (["ingest", "/nonexistent/file.txt"], "no such file"),
])
def test_bad_input_is_one_line_and_changes_nothing(seeded_db, args, message):
    before = run("export", "--format", "json").stdout
    result = run(*args, ok=False)
    assert (result.exit_code, result.stdout) == (1, "")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert run("export", "--format", "json").stdout == before


def test_malformed_documents_are_refused_whole(seeded_db, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text((ROOT / "seeds" / "002_3391b5c7fdc478f8.txt").read_text().replace(
        "Interpretability Illusions in the Generalization of Simplified Models", "A different paper title"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02garbage")
    before = run("export", "--format", "json").stdout
    result = run("ingest", str(good), str(bad), ok=False)
    assert (result.exit_code, result.stdout) == (1, "") and "binary" in result.stderr
    assert run("export", "--format", "json").stdout == before


def test_ingest_json_contract_and_reingest_adds_nothing(tmp_path):
    paths = [str(p) for p in sorted((ROOT / "seeds").glob("00*.txt"))]
    first = json.loads(run("ingest", *paths, "--json").stdout)
    assert set(first) >= {"files", "nodes_added", "edges_added", "warnings"}
    assert len(first["files"]) == 4
    assert (first["nodes_added"], first["edges_added"]) == stored_totals()  # the database was empty before
    again = json.loads(run("ingest", *paths, "--json").stdout)
    assert (again["nodes_added"], again["edges_added"]) == (0, 0)


def test_export_then_import_into_an_empty_database(seeded_db, tmp_path):
    out = tmp_path / "graph.json"
    run("export", "--format", "json", "--output", str(out))
    data = json.loads(out.read_text())
    assert set(data) >= {"nodes", "edges"}
    assert set(data["nodes"][0]) >= {"id", "kind", "title", "description", "status", "attrs", "measurements"}
    assert set(data["edges"][0]) == {"source", "target", "type", "attrs"}
    empty = str(tmp_path / "empty.db")
    run("--db", empty, "import", str(out))
    assert json.loads(run("--db", empty, "export", "--format", "json").stdout) == data


def test_export_formats(seeded_db, tmp_path):
    assert run("export", "--format", "graphml").stdout.lstrip().startswith("<?xml")
    run("export", "--format", "csv", "--output", str(tmp_path / "g.zip"))
    graph = json.loads(run("export", "--format", "json").stdout)
    with zipfile.ZipFile(tmp_path / "g.zip") as z:
        rows = {name: list(csv.DictReader(io.StringIO(z.read(name).decode()))) for name in z.namelist()}
    assert sorted(rows) == ["edges.csv", "measurements.csv", "nodes.csv"]
    assert [r["id"] for r in rows["nodes.csv"]] == [n["id"] for n in graph["nodes"]]
    assert [(r["source"], r["type"], r["target"]) for r in rows["edges.csv"]] == [
        (e["source"], e["type"], e["target"]) for e in graph["edges"]]
    assert [r["node_id"] for r in rows["measurements.csv"]] == [
        n["id"] for n in graph["nodes"] for _ in n["measurements"]]
    assert "csv writes a zip" in run("export", "--format", "csv", ok=False).stderr


@pytest.mark.parametrize("args", [["--help"], ["show", SEED_FINDING], ["search", "CL loss"],
                                  ["neighbors", SEED_FINDING]])
def test_query_commands_do_not_import_heavy_libraries(seeded_db, args):
    code = (
        "import sys; from app.cli import main\n"
        f"sys.argv = ['findings', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'ot', 'sqlalchemy', 'pydantic')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**__import__("os").environ, "FINDINGS_DB": str(seeded_db)})
    assert "HEAVY []" in proc.stderr, proc.stderr
