"""Docs that cannot drift: every CLI command and every edge type is in the README."""
import re

import typer

from app.cli import app
from graph.vocabulary import EDGE_TYPES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=""):
    import click

    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")


def test_every_command_is_documented():
    documented = README
    missing = [c for c in _commands(typer.main.get_command(app))
               if not re.search(rf"findings {re.escape(c.split()[0])}\b", documented)]
    assert missing == []


def test_every_edge_type_is_documented():
    table = README.split("<!-- edge types")[1]
    assert [t for t in EDGE_TYPES if f"| `{t}` |" not in table] == []


def test_readme_gives_the_two_commands():
    assert "make demo" in README and "make test" in README
