"""bench/peer_pyvene.py needs pyvene, an optional extra: without it the bench says so in one line and exits 1."""
from __future__ import annotations

import sys

from bench.peer_pyvene import main


def test_without_pyvene_the_bench_prints_one_line_and_exits_1(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyvene", None)  # makes `import pyvene` raise ModuleNotFoundError
    assert main(["--json"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "pyvene is not installed" in err and "findings-explorer[peer]" in err
