"""Every command of the real ``findings`` Typer app, found by walking its groups.

The docs, exit-status and JSON-stdout tests all start from this walk, so a new command or subcommand is
covered by them the moment it is registered.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer


def subcommands(command: Any) -> Mapping[str, Any] | None:
    """A group's commands by name, or None for a leaf command.

    typer 0.28 vendors click, and its ``TyperGroup`` is not a ``click.Group`` (``isinstance`` is always
    false), so a group is recognised by the ``commands`` mapping that click's ``Group`` and typer's both hold.
    """
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, Mapping) else None


def walk(command: Any, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{"run boundless": <command>, "run": <group>, ...}`` for every command and group below ``command``;
    hidden ones (and everything below a hidden group) are left out."""
    found: dict[str, Any] = {}
    for name, sub in (subcommands(command) or {}).items():
        if getattr(sub, "hidden", False):
            continue
        path = (*prefix, name)
        found[" ".join(path)] = sub
        found.update(walk(sub, path))
    return found


def all_commands() -> dict[str, Any]:
    from app.cli import app

    return walk(typer.main.get_command(app))


def leaf_commands() -> dict[str, Any]:
    """Commands that run (groups left out)."""
    return {path: c for path, c in all_commands().items() if subcommands(c) is None}


def option_names(command: Any) -> set[str]:
    return {opt for p in command.params for opt in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
