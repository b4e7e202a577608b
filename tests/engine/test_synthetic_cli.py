"""``findings run synthetic`` through a Typer app that mounts ``run_app`` (as app/cli.py will)."""
from __future__ import annotations

import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from app.commands.run import run_app

TINY = ["--seeds", "1", "--max-epochs", "20", "--patience", "10", "--samples-per-class", "12",
        "--train-interventions", "30", "--eval-interventions", "30", "--classifier-epochs", "15",
        "--workers", "1", "--quiet", "--no-record"]


def cli() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = {"db": None}

    root.add_typer(run_app, name="run")
    return root


def test_run_synthetic_json_contract():
    result = CliRunner().invoke(cli(), ["run", "synthetic", "--partition", "inner_square", "--loss", "cl",
                                        "--map", "orthogonal", "--json", *TINY])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["task"], data["partition"], data["loss"], data["map"], data["seeds"]) == \
           ("synthetic10", "inner_square", "cl", "orthogonal", 1)
    assert data["epsilon"] is None
    assert (data["protocol"], data["divergence_measure"]) == ("engine", "sinkhorn_converged_matched")
    assert data["measures"] == ["grant2025_geomloss_sinkhorn", "sinkhorn_converged_matched", "exact_emd_matched"]
    for split in ("train", "cross"):
        assert set(data[split]["iia"]) >= {"mean", "sem"} and set(data[split]["emd"]) >= {"mean", "sem"}
        for mid in data["measures"]:
            entry = data[split][mid]
            assert set(entry) == {"mean", "sem", "n", "floor", "n_points"} and entry["n"] == 2
            assert 0 <= entry["floor"]["mean"] and entry["floor"]["n"] == 2
        # today's keys stay, as aliases of the engine's measures
        assert data[split]["emd"] == {k: data[split]["sinkhorn_converged_matched"][k] for k in ("mean", "sem", "n")}
        assert data[split]["native_floor_emd"] == data[split]["exact_emd_matched"]["floor"]
    assert len(data["per_run"]) == 2


def test_run_synthetic_table_and_bad_options():
    result = CliRunner().invoke(cli(), ["run", "synthetic", "--loss", "das", *TINY])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["cross", "grant2025_geomloss_sinkhorn"] for line in lines)
    assert any(line.split()[:2] == ["cross", "exact_emd_matched"] for line in lines)
    bad = CliRunner().invoke(cli(), ["run", "synthetic", "--loss", "mse", *TINY])
    assert (bad.exit_code, bad.stdout) == (1, "")
    assert bad.stderr.startswith("error: Unknown loss") and bad.stderr.count("\n") == 1


def test_the_run_command_module_does_not_import_torch():
    code = "import sys, app.commands.run; print('torch' in sys.modules, 'engine.protocol' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
