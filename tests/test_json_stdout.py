"""Stdout is the contract: with ``--json`` it holds the JSON and nothing else, whatever the command has to do
first (migrate a blank database, load the embedding model, train the tiny Price Tagging model on a cold
cache); progress and warnings go to stderr.

Every command with a ``--json`` option is found by walking the real Typer app and run in a subprocess,
as a user runs it, on its own database and an empty model cache. A new one fails here until ``RECIPES``
gives it its minimal arguments.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.cli_commands import leaf_commands, option_names
from tests.conftest import ROOT, SEED_FINDING
from tests.test_similarity import CL_EMD, DAS_EMD

JSON_COMMANDS = sorted(path for path, c in leaf_commands().items() if "--json" in option_names(c))
# the smallest settings each command has (hidden ones included): seconds, not minutes, on two cores
SYNTHETIC = ["--seeds", "1", "--max-epochs", "10", "--patience", "10", "--samples-per-class", "4",
             "--train-interventions", "8", "--eval-interventions", "8", "--classifier-epochs", "3", "--workers", "1"]
# 250 steps: the tiny model's training reports its progress every 250 steps, so a line is printed
TINY_MODEL = {"steps": 250, "batch_size": 8, "n_layer": 2, "n_embd": 16, "n_head": 2, "eval_size": 200,
              "min_accuracy": 0}
BOUNDLESS = ["--tiny-config", json.dumps(TINY_MODEL), "--epsilon", "0", "--seeds", "1", "--steps", "1",
             "--batch-size", "8", "--train-pairs", "8", "--test-pairs", "8"]
TRAIN_PRICETAG = ["--layers", "1", "--width", "16", "--heads", "2", "--steps", "250", "--batch-size", "8",
                  "--min-accuracy", "0"]

# command -> (database, arguments before --json); database: "blank" (no file: the command creates and
# migrates it), "behind" (an older schema revision: the command migrates it first), "seeded" or "embedded"
# (every node embedded; `embed` gets one new node to embed)
RECIPES: dict[str, tuple[str, list[str]]] = {
    "seed": ("blank", []),
    "ingest": ("blank", [str(ROOT / "seeds" / "002_3391b5c7fdc478f8.txt")]),
    "show": ("seeded", [SEED_FINDING]),
    "evidence": ("seeded", [SEED_FINDING]),
    "neighbors": ("seeded", [SEED_FINDING]),
    "search": ("embedded", ["divergent representations", "--semantic"]),
    "stats": ("blank", []),
    "runs": ("behind", []),
    "check": ("seeded", []),
    "backup": ("seeded", ["{tmp}/backup.json.gz"]),
    "restore": ("blank", ["{tmp}/backup.json"]),
    "embed": ("embedded", []),
    "similar": ("embedded", [SEED_FINDING, "--limit", "3"]),
    "curate list": ("embedded", ["--limit", "3"]),
    "curate accept": ("embedded", [CL_EMD, DAS_EMD, "--type", "replicates"]),
    "curate merge": ("embedded", [CL_EMD, DAS_EMD]),
    "curate unmerge": ("embedded", [DAS_EMD]),
    "curate dismiss": ("embedded", [CL_EMD, DAS_EMD]),
    "sweep": ("seeded", [str(ROOT / "examples" / "sweep_small.yaml"), "--dry-run"]),
    "run synthetic": ("seeded", ["--loss", "cl", *SYNTHETIC]),
    "run boundless": ("seeded", BOUNDLESS),
    "run train-pricetag": ("blank", TRAIN_PRICETAG),
    "measures": ("blank", []),
    "log": ("seeded", ["--since", "7d", "--limit", "5"]),
    "import-results": ("seeded", [str(ROOT / "examples" / "results_per_seed.csv"), "--protocol", "grant2025"]),
}


def test_every_json_command_has_a_recipe():
    assert {"show", "run boundless", "curate list"} <= set(JSON_COMMANDS)  # the walk reaches subcommands
    assert sorted(set(JSON_COMMANDS) - set(RECIPES)) == []
    assert sorted(set(RECIPES) - set(JSON_COMMANDS)) == []


def _prepare(command: str, db, tmp_path) -> None:
    """What a command needs beyond the template: a backup to restore, a merge to undo, a node to embed."""
    from graph.api import Graph

    if command == "runs":
        from db.engine import get_engine, migrate

        migrate(get_engine(f"sqlite:///{db}"), "0005")
    elif command == "embed":
        Graph(str(db)).add_node({"kind": "claim", "title": "Interventions can leave the native manifold"})
    elif command == "restore":
        from graph.backup import backup

        backup(Graph(str(tmp_path / "source.db")), tmp_path / "backup.json")
    elif command == "curate unmerge":
        from graph.curation import merge

        merge(Graph(str(db)), CL_EMD, DAS_EMD)


@pytest.mark.parametrize("command", [c for c in JSON_COMMANDS if c in RECIPES])
def test_json_stdout_is_only_json(command, tmp_path, request):
    database, args = RECIPES[command]
    db = tmp_path / "findings.db"
    if database in ("seeded", "embedded"):  # the embedded template is built only when a command needs it
        shutil.copy(request.getfixturevalue("_seeded_template" if database == "seeded" else "embedded_template"), db)
    if command == "restore":
        shutil.copy(request.getfixturevalue("_seeded_template"), tmp_path / "source.db")
    _prepare(command, db, tmp_path)
    cache = tmp_path / "cache"  # empty: the tiny Price Tagging model is trained, not read
    env = {**os.environ, "FINDINGS_DB": str(db), "FINDINGS_CACHE": str(cache)}
    argv = [sys.executable, "-m", "app", *command.split(), *(a.replace("{tmp}", str(tmp_path)) for a in args),
            "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    try:
        json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        pytest.fail(f"stdout is not only JSON ({exc}); it begins {proc.stdout[:300]!r}")
    if command.startswith("run ") and command != "run synthetic":
        assert list(cache.iterdir()), "the cache was cold: the tiny model was trained and saved"
