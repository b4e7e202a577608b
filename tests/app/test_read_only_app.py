"""The read-only explorer (``findings app --read-only``): no page offers a write, and its graph's connection
cannot write; the same pages in a writable app do offer them (so the checks here can fail)."""
from __future__ import annotations

import getpass
import re
from pathlib import Path

import pytest

from graph import curation
from tests.app.test_pages import CL_IIA, app, on_page, texts
from tests.conftest import ROOT, SEED_FINDING, use_copy

WRITE_KEYS = ("sim_accept_", "sim_merge_", "sim_dismiss_", "sim_type_", "node_unmerge", "add_")


@pytest.fixture
def db(embedded_template, tmp_path, monkeypatch) -> Path:
    return use_copy(embedded_template, tmp_path / "app.db", monkeypatch)


def write_widgets(at) -> list[str]:
    """Keys of the widgets on the page that would write (curation buttons and choices, add forms)."""
    keys = [w.key for kind in ("button", "selectbox", "text_input", "text_area", "number_input")
            for w in at.get(kind) if getattr(w, "key", None)]
    return sorted(k for k in keys if k.startswith(WRITE_KEYS))


def test_read_only_app_shows_no_write_widgets(db, monkeypatch):
    from graph.api import Graph

    g = Graph(str(db))
    curation.merge(g, SEED_FINDING, CL_IIA, score=0.9)  # a merged node: its page offers "Unmerge"
    writable = app(node=SEED_FINDING)
    assert not writable.exception and any(k.startswith("sim_accept_") for k in write_widgets(writable))
    assert "node_unmerge" in write_widgets(app(node=CL_IIA))
    assert on_page(app(), "add").text_input(key="add_paper_title") is not None

    monkeypatch.setenv("FINDINGS_READ_ONLY", "1")
    before = g.log(limit=1000)
    node = app(node=SEED_FINDING)
    assert not node.exception
    shown = texts(node)
    assert re.search(r"cosine 0\\?\.\d{3}", shown), shown  # the candidates are still listed, with their scores
    assert write_widgets(node) == []
    assert f"Added by {getpass.getuser()}" in shown  # who added the node, and when
    assert "Read-only: this explorer cannot change the graph." in shown
    merged = app(node=CL_IIA)
    assert not merged.exception and "Merged" in texts(merged) and write_widgets(merged) == []
    for page in ("search", "findings_table", "runs", "graph_view"):
        at = on_page(app(), page)
        assert not at.exception and write_widgets(at) == [], page
    # the Add page is not in the navigation; its script run on its own offers nothing either
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        on_page(app(), "add")
    from streamlit.testing.v1 import AppTest

    add = AppTest.from_file(str(ROOT / "app" / "views" / "add.py"), default_timeout=60).run()
    assert not add.exception and write_widgets(add) == [] and "read-only" in texts(add)
    # and the graph the pages use cannot write, whatever a page might try
    from app import components

    ro = components._graph(str(db), True)
    assert ro.store.read_only
    with pytest.raises(ValueError, match="open read-only"):
        curation.dismiss(ro, SEED_FINDING, CL_IIA, score=0.5)
    assert g.log(limit=1000) == before
