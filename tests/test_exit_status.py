"""Exit status: 0 ok; 1 bad input or failed work, with one line on stderr and nothing on stdout; 2 only for
the usage errors Typer itself reports (an unknown option, a missing argument).

Every command of the real app is covered: a new one fails ``test_every_command_has_a_bad_input_case``
until it gets a bad-input case here or is listed as taking no input.
"""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests.cli_commands import all_commands, leaf_commands
from tests.conftest import SEED_FINDING

NOPE = "finding:no-such-node"
# commands that take no input a user can get wrong (only --json, or a port the test must not bind)
NO_INPUT = {"init", "seed", "stats", "check", "app", "measures"}
BAD_INPUT = {
    "ingest": ["/nonexistent/doc.txt"],
    "show": [NOPE],
    "evidence": [NOPE],
    "neighbors": [NOPE],
    "search": ["CL loss", "--kind", "theorem"],
    "runs": ["--status", "exploded"],
    "link": [SEED_FINDING, "cites", SEED_FINDING],
    "export": ["--format", "yaml"],
    "import": ["/nonexistent/graph.json"],
    "import-results": ["/nonexistent/results.csv"],
    "embed": ["--model", "/nonexistent/model-dir"],
    "similar": [NOPE],
    "backup": ["/nonexistent/dir/backup.json"],
    "restore": ["/nonexistent/backup.json"],
    "sweep": ["/nonexistent/spec.yaml"],
    "add paper": ["--description", "no title"],
    "add claim": ["--title", "A claim", "--paper", "paper:no-such-paper"],
    "add finding": ["--title", "A finding", "--value", "0.5"],
    "run synthetic": ["--loss", "mse", "--seeds", "1"],
    "run train-pricetag": ["--width", "10", "--heads", "4"],
    "run boundless": ["--epsilon", "x", "--no-record"],
    "curate list": ["--kind", "theorem"],
    "curate accept": [NOPE, SEED_FINDING, "--type", "replicates"],
    "curate merge": [SEED_FINDING, NOPE],
    "curate unmerge": [NOPE],
    "curate dismiss": [NOPE, SEED_FINDING],
    "log": ["--since", "last tuesday"],
}


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_every_command_has_a_bad_input_case():
    assert sorted(set(leaf_commands()) - NO_INPUT - set(BAD_INPUT)) == []
    assert sorted(set(BAD_INPUT) - set(leaf_commands())) == []


@pytest.mark.parametrize("command", sorted(BAD_INPUT))
def test_bad_input_exits_1_with_one_line_on_stderr(seeded_db, command):
    result = invoke(*command.split(), *BAD_INPUT[command])
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", sorted(all_commands()))
def test_an_unknown_option_is_a_usage_error(seeded_db, command):
    result = invoke(*command.split(), "--no-such-option")
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert "No such option: --no-such-option" in result.stderr


@pytest.mark.parametrize("args", [["show"], ["link", SEED_FINDING, "supports"], ["curate", "merge", SEED_FINDING]])
def test_a_missing_argument_is_a_usage_error(seeded_db, args):
    result = invoke(*args)
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert "Missing argument" in result.stderr
