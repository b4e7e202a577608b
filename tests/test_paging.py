"""Hubs are paged and counted: a node with more neighbours than a page gives exact counts per group, one
page of rows, and the page at any offset is that slice of the whole ranking, whichever way it is computed
(the whole group in memory, or a big group read from the index in order); ``findings show`` and
``findings neighbors`` print a page and "N more", and their JSON carries every group's count."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import app
from db.sqlite_read import open_reader
from graph import neighbourhood as nbh
from graph.api import Graph

runner = CliRunner()
HUB = "claim:hub"
SUPPORTERS = 45
TIED_TWICE = ("finding:f-07", "finding:f-31", "finding:f-40")  # also associated_with the hub
PAGE = 7


@pytest.fixture
def hub_graph(tmp_path, monkeypatch) -> Graph:
    """A claim that 45 findings support, three of them also associated with it, one contradicting it."""
    path = tmp_path / "hub.db"
    monkeypatch.setenv("FINDINGS_DB", str(path))
    g = Graph(str(path))
    nodes = [{"id": HUB, "kind": "claim", "title": "The hub claim"},
             {"id": "claim:other", "kind": "claim", "title": "Another claim"}]
    nodes += [{"id": f"finding:f-{i:02d}", "kind": "finding", "title": f"Finding {(i * 17) % SUPPORTERS}"}
              for i in range(SUPPORTERS)]
    edges = [(f"finding:f-{i:02d}", "supports", HUB, {"i": i}) for i in range(SUPPORTERS)]
    edges += [(f, "associated_with", HUB, {}) for f in TIED_TWICE]
    edges += [("finding:f-03", "contradicts", "claim:other", {}), ("finding:f-05", "contradicts", HUB, {})]
    g.bulk_load(nodes, edges)
    return g


def _ranked(groups, key):
    (grp,) = [x for x in groups if (x.edge_type, x.direction) == key]
    return grp


def test_counts_are_exact_and_only_a_page_is_returned(hub_graph):
    page = hub_graph.node_page(HUB, per_group=PAGE)
    got = {(x.edge_type, x.direction): (x.count, x.size, len(x.neighbours), x.more) for x in page.groups}
    assert got == {("supports", "in"): (45, 45, PAGE, 45 - PAGE), ("associated_with", "in"): (3, 3, 3, 0),
                   ("contradicts", "in"): (1, 1, 1, 0)}
    assert [x.edge_type for x in page.groups] == ["supports", "associated_with", "contradicts"]
    supports = _ranked(page.groups, ("supports", "in"))
    # tied twice first (by id: f-05 also contradicts it), then the rest in id order; edge attrs come with each
    twice = sorted(("finding:f-05", *TIED_TWICE))
    assert [(n.id, ties) for n, ties, _ in supports.neighbours[:4]] == [(f, 2) for f in twice]
    rest = [n.id for n, _, _ in supports.neighbours[4:]]
    assert rest == sorted(rest) and set(rest).isdisjoint(twice)
    assert supports.neighbours[1][2] == [{"i": 7}]


@pytest.mark.parametrize("load_whole", [2, 10, 1000])  # two big groups, one big group, all in memory
def test_pages_at_every_offset_are_slices_of_the_whole_ranking(hub_graph, monkeypatch, load_whole):
    whole = _ranked(hub_graph.neighbourhood(HUB), ("supports", "in"))
    assert len(whole.neighbours) == 45
    full = [(n.id, ties, attrs) for n, ties, attrs in whole.neighbours]
    monkeypatch.setattr(nbh, "LOAD_WHOLE", load_whole)
    pages = []
    for offset in range(0, 50, PAGE):
        grp = _ranked(hub_graph.node_page(HUB, per_group=PAGE, offsets={("supports", "in"): offset}).groups,
                      ("supports", "in"))
        assert (grp.offset, grp.count) == (offset, 45)
        assert grp.more == max(0, 45 - offset - PAGE)
        pages += [(n.id, ties, attrs) for n, ties, attrs in grp.neighbours]
    assert pages == full
    # another group's offset leaves this one at its first page
    other = hub_graph.node_page(HUB, per_group=PAGE, offsets={("associated_with", "in"): 2})
    assert [n.id for n, _, _ in _ranked(other.groups, ("associated_with", "in")).neighbours] == [TIED_TWICE[2]]
    assert [n.id for n, _, _ in _ranked(other.groups, ("supports", "in")).neighbours] == [x[0] for x in full[:PAGE]]


def test_show_pages_each_group_and_both_read_paths_agree(hub_graph):
    data = hub_graph.show(HUB, limit=5, offset=40)
    assert data["groups"] == [
        {"type": "supports", "direction": "in", "count": 45, "offset": 40, "shown": 5},
        {"type": "associated_with", "direction": "in", "count": 3, "offset": 40, "shown": 0},
        {"type": "contradicts", "direction": "in", "count": 1, "offset": 40, "shown": 0}]
    assert [e["node"]["id"] for e in data["edges"]] == [f"finding:f-{i}" for i in range(40, 45)]
    with open_reader() as reader:
        assert reader.show(HUB, 5, 40) == data
        assert reader.show(HUB, 2, 0) == hub_graph.show(HUB, limit=2)
        assert reader.show(HUB) == hub_graph.show(HUB)
    assert len(hub_graph.show(HUB)["edges"]) == 49 and "groups" not in hub_graph.show(HUB)


@pytest.mark.parametrize("load_whole", [2, 10, 1000])
def test_the_quick_reader_ranks_and_pages_as_the_store_does(hub_graph, monkeypatch, load_whole):
    monkeypatch.setattr(nbh, "LOAD_WHOLE", load_whole)

    def flat(groups):
        return [(g.edge_type, g.direction, g.count, g.offset, g.more,
                 [(n.id, n.kind, n.title, t, a) for n, t, a in g.neighbours]) for g in groups]

    for per_group, offsets in ((None, None), (PAGE, None), (PAGE, {("supports", "in"): 9}), (3, {("x", "in"): 1})):
        with open_reader() as reader:
            quick = nbh.neighbourhood(reader, HUB, per_group, offsets)
        assert flat(quick) == flat(hub_graph.neighbourhood(HUB, per_group, offsets))
    with open_reader() as reader, pytest.raises(ValueError, match="no node with id"):
        nbh.neighbourhood(reader, "claim:nope", PAGE)


def test_cli_prints_a_page_and_how_many_more(hub_graph):
    out = runner.invoke(app, ["neighbors", HUB, "--limit", str(PAGE)])
    assert out.exit_code == 0, out.output
    assert "supports (in, 45)" in out.output
    assert f"… {45 - PAGE} more (findings neighbors {HUB} --offset {PAGE})" in out.output
    assert out.output.count("[finding]") == PAGE + 3 + 1
    data = json.loads(runner.invoke(app, ["neighbors", HUB, "--limit", "5", "--offset", "10", "--json"]).stdout)
    assert [(g["type"], g["count"], g["offset"], g["more"], len(g["neighbours"])) for g in data] == [
        ("supports", 45, 10, 30, 5), ("associated_with", 3, 10, 0, 0), ("contradicts", 1, 10, 0, 0)]
    shown = runner.invoke(app, ["show", HUB, "--limit", "4"])
    assert shown.exit_code == 0, shown.output
    assert f"supports (in): 45 in all  … 41 more (findings show {HUB} --offset 4)" in shown.output
    assert shown.output.count("← supports") == 4
    every = json.loads(runner.invoke(app, ["show", HUB, "--all", "--json"]).stdout)
    assert len(every["edges"]) == 49 and "groups" not in every
    bad = runner.invoke(app, ["neighbors", HUB, "--limit", "0"])
    assert bad.exit_code != 0
