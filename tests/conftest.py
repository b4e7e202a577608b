"""Shared fixtures: every test gets its own database under tmp_path, pointed to by FINDINGS_DB."""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.pg"]

ROOT = Path(__file__).resolve().parent.parent
SEED_FINDING = ("finding:for-small-cl-loss-weights-epsilon-iia-is-maintained-potentially-improved-"
                "while-emd-decreases-in-boundless-das-on-a-7b-llm")


@pytest.fixture(autouse=True)
def _isolated_db(tmp_path, monkeypatch):
    monkeypatch.setenv("FINDINGS_DB", str(tmp_path / "findings.db"))
    random.seed(0)
    yield


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory) -> Path:
    """One seeded SQLite file per test session; tests get copies of it."""
    from seeds import build_seeded_db

    return build_seeded_db(tmp_path_factory.mktemp("seeded") / "seeded.db")


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory) -> Path:
    """The seeded graph with every node embedded (real all-MiniLM-L6-v2), built once per session."""
    from seeds import build_seeded_db

    return build_seeded_db(tmp_path_factory.mktemp("embedded") / "embedded.db", embed=True)


def use_copy(template: Path, path: Path, monkeypatch) -> Path:
    """Copy a template database to ``path`` and make it the test's database (FINDINGS_DB)."""
    shutil.copy(template, path)
    monkeypatch.setenv("FINDINGS_DB", str(path))
    return path


@pytest.fixture
def seeded_db(_seeded_template, tmp_path, monkeypatch) -> Path:
    return use_copy(_seeded_template, tmp_path / "findings.db", monkeypatch)


@pytest.fixture
def seeded_graph(seeded_db):
    from graph.api import Graph

    return Graph(str(seeded_db))
