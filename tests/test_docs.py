"""Docs that cannot drift: every CLI command and every edge type is in the README."""
import re

from graph.vocabulary import EDGE_TYPES
from tests.cli_commands import all_commands
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
WORD = re.compile(r"[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)*")  # a command name, or alternatives `list|accept`


def command_table(readme: str) -> list[str]:
    """The rows of the table under ``<!-- commands: ... -->``."""
    rows = readme.split("<!-- commands:", 1)[1].splitlines()[1:]
    table = []
    for row in rows:
        if not row.startswith("|"):
            break
        table.append(row)
    return table[2:]  # after the header and its rule


def documented_commands(readme: str) -> set[str]:
    """Command paths the table names: ``findings curate list\\|accept …`` gives ``curate``, ``curate list``,
    ``curate accept``; words stop at the first argument, option or ellipsis (``ID``, ``--json``, ``…``)."""
    documented = set()
    for row in command_table(readme):
        first_cell = re.split(r"(?<!\\)\|", row)[1]
        code = re.search(r"`findings ([^`]*)`", first_cell)
        if code is None:
            continue
        paths = [""]
        for word in code.group(1).replace("\\|", "|").split():
            if not WORD.fullmatch(word):
                break
            paths = [f"{p} {alt}".strip() for p in paths for alt in word.split("|")]
            documented.update(paths)
    return documented


def undocumented(commands, readme: str) -> list[str]:
    return sorted(set(commands) - documented_commands(readme))


def test_the_walk_reaches_subcommands():
    commands = all_commands()
    assert {"add paper", "curate merge", "run synthetic", "run boundless", "run train-pricetag"} <= set(commands)


def test_every_command_and_subcommand_is_in_the_command_table():
    assert undocumented(all_commands(), README) == []


def test_every_row_of_the_command_table_names_a_real_command():
    assert sorted(documented_commands(README) - set(all_commands())) == []


def test_a_missing_subcommand_row_is_caught():
    row = next(r for r in command_table(README) if r.startswith("| `findings run boundless"))
    assert undocumented(all_commands(), README.replace(row + "\n", "")) == ["run boundless"]
    curate = next(r for r in command_table(README) if r.startswith("| `findings curate"))
    assert undocumented(all_commands(), README.replace(curate, curate.replace("\\|unmerge", ""))) == [
        "curate unmerge"]


def test_every_edge_type_is_documented():
    table = README.split("<!-- edge types")[1]
    assert [t for t in EDGE_TYPES if f"| `{t}` |" not in table] == []


def test_readme_gives_the_two_commands():
    assert "make demo" in README and "make test" in README
