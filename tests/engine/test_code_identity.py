"""The code identity: a content hash of engine/, graph/ and db/ plus numeric library versions.

Two different edits give two identities; identical code gives the identical one, wherever it lives (a
checkout, a copy, an installed wheel); a run recorded with identical code is found again, a run after an
edit is not.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from engine.code_identity import PACKAGES, code_identity, code_version
from tests.conftest import ROOT


def _copy_code(dest):
    """The three hashed packages of this checkout, copied under ``dest`` (with their __pycache__)."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package)
    return dest


def test_two_different_edits_give_two_identities_and_identical_code_the_same_one(tmp_path):
    root = _copy_code(tmp_path / "code")
    libs = {"torch": "2.0", "numpy": "2.0"}
    target = root / "engine" / "metrics.py"
    original = target.read_bytes()
    clean = code_identity(root, libs).digest

    target.write_bytes(original + b"\n# one edit\n")
    first = code_identity(root, libs).digest
    target.write_bytes(original + b"\n# another edit\n")
    second = code_identity(root, libs).digest
    target.write_bytes(original)
    assert len({clean, first, second}) == 3  # a git checkout gave "<sha>+dirty" for both edits
    assert code_identity(root, libs).digest == clean  # identical code, identical identity

    (root / "graph" / "untracked_helper.py").write_text("X = 1\n", encoding="utf-8")  # untracked files count
    assert code_identity(root, libs).digest != clean
    (root / "graph" / "untracked_helper.py").unlink()
    (root / "engine" / "notes.txt").write_text("not source\n", encoding="utf-8")  # only *.py is code
    assert code_identity(root, libs).digest == clean
    (root / "engine" / "metrics.py").rename(root / "engine" / "metrics2.py")  # the path is part of it
    assert code_identity(root, libs).digest != clean


def test_numeric_library_versions_are_part_of_the_identity(tmp_path):
    root = _copy_code(tmp_path / "code")
    assert code_identity(root, {"torch": "2.13.0"}).digest != code_identity(root, {"torch": "2.12.0"}).digest
    installed = code_identity(root)
    assert {"torch", "numpy", "scipy", "pot"} <= set(installed.libraries)
    assert installed.files == len(list((root / "engine").rglob("*.py"))) + len(list((root / "graph").rglob("*.py"))) \
        + len(list((root / "db").rglob("*.py")))


def test_a_checkout_and_an_installed_wheel_give_the_same_identity(tmp_path):
    """Build the project's wheel from a copy of the checkout and hash its unpacked files: the same identity."""
    src = tmp_path / "checkout"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("engine", "graph", "db", "app", "seeds"):
        shutil.copytree(ROOT / package, src / package)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300,
                           check=False)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("findings_explorer-*.whl")
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    checkout, installed = code_identity(src), code_identity(site)
    assert installed.files == checkout.files > 50
    assert installed.digest == checkout.digest


def test_this_process_identity_is_the_checkouts():
    code_version.cache_clear()  # computed once per process; here, right beside the direct hash
    assert code_version() == code_identity(ROOT).digest


def test_a_rerun_with_identical_code_is_already_recorded_and_one_after_an_edit_is_not(tmp_path, monkeypatch):
    """The run key follows the code: identical code finds the finished run, an edited copy does not."""
    from engine import record
    from graph.api import Graph

    root = _copy_code(tmp_path / "code")
    monkeypatch.setattr(record, "code_version", lambda: code_identity(root, {}).digest)
    graph = Graph(str(tmp_path / "runs.db"))
    config = {"task": "synthetic10", "seed": 0}

    def rerun():
        with record.RunLedger(graph) as ledger:
            handle = ledger.open(title="identity", config=config, site="s", divergence_measure=None)
            if handle.run_id is not None:
                ledger.finish(handle.run_id, [])
            return handle

    first = rerun()
    again = rerun()
    assert first.run_id is not None and again.run_id is None and again.existing.id == first.run_id
    assert again.key == first.key

    target = root / "engine" / "losses.py"
    target.write_bytes(target.read_bytes() + b"\n# an uncommitted edit\n")
    edited = rerun()
    assert edited.run_id is not None and edited.key != first.key  # not skipped as "already recorded"
    stored = graph.get(edited.run_id).attrs
    assert stored["config_hash"] == edited.key and stored["code_version"] == code_identity(root, {}).digest
    assert {"git_commit", "git_dirty", "host", "pid"} <= set(stored)
