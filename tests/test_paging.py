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


# ---- the 2-hop walk reads a page of each group, never a hub's whole group -----------------------
def _old_next_hop(tx, frontier, seen, limit):
    """The walk as it was: every neighbour of the frontier collected (a union), sorted, then cut."""
    from sqlalchemy import select, union

    from db import models as m
    from db.queries.base import chunks

    seen = list(set(seen))
    found: list[str] = []
    for chunk in chunks(list(set(frontier))):
        u = union(select(m.Edge.target_id.label("nid")).where(m.Edge.source_id.in_(chunk)),
                  select(m.Edge.source_id.label("nid")).where(m.Edge.target_id.in_(chunk))).subquery()
        q = select(u.c.nid).where(u.c.nid.not_in(seen)) if seen else select(u.c.nid)
        found.extend(tx._rows(q.order_by(u.c.nid).limit(limit)).scalars())
    return sorted(set(found) - set(seen))[:limit]


@pytest.fixture
def walk_graph(store_url) -> Graph:
    """A claim that 60 findings support (some also associated with it, or contradicting it), each finding
    extracted from one of 25 papers, papers by authors: a hub far bigger than the walk's cut (SQLite and
    PostgreSQL)."""
    g = Graph(store_url)
    nodes = [{"id": HUB, "kind": "claim", "title": "The hub claim"},
             {"id": "claim:other", "kind": "claim", "title": "Another claim"}]
    nodes += [{"id": f"finding:w-{i:02d}", "kind": "finding", "title": f"Finding {i}"} for i in range(60)]
    nodes += [{"id": f"paper:p-{i:02d}", "kind": "paper", "title": f"Paper {i}"} for i in range(25)]
    nodes += [{"id": f"author:a-{i}", "kind": "author", "title": f"Author {i}"} for i in range(8)]
    edges = [(f"finding:w-{i:02d}", "supports", HUB, {}) for i in range(0, 60, 1) if i % 7]
    edges += [(f"finding:w-{i:02d}", "associated_with", HUB, {}) for i in range(0, 60, 5)]
    edges += [(f"finding:w-{i:02d}", "contradicts", "claim:other", {}) for i in range(0, 60, 7)]
    edges += [("claim:other", "associated_with", HUB, {})]
    edges += [(f"finding:w-{i:02d}", "extracted_from", f"paper:p-{(i * 11) % 25:02d}", {}) for i in range(60)]
    edges += [(f"paper:p-{i:02d}", "authored_by", f"author:a-{(i * 3) % 8}", {}) for i in range(25)]
    g.bulk_load(nodes, edges)
    return g


@pytest.mark.parametrize("start", [HUB, "claim:other", "finding:w-14", "paper:p-03", "author:a-2"])
@pytest.mark.parametrize("max_nodes", [5, 20, 40, 150])
def test_the_paged_walk_equals_the_whole_walk(walk_graph, monkeypatch, start, max_nodes):
    from db.queries.edges import EdgeQueries

    for hops in (1, 2, 3):
        new_nodes, new_edges = walk_graph.subgraph(start, hops=hops, max_nodes=max_nodes)
        with monkeypatch.context() as mp:
            mp.setattr(EdgeQueries, "next_hop", _old_next_hop)
            old_nodes, old_edges = walk_graph.subgraph(start, hops=hops, max_nodes=max_nodes)
        assert [n.id for n in new_nodes] == [n.id for n in old_nodes]
        assert [e.id for e in new_edges] == [e.id for e in old_edges]
        assert len(new_nodes) <= max_nodes


def test_the_walk_reads_only_a_page_of_a_hubs_group(walk_graph):
    with walk_graph.store.read() as tx:
        ends = tx.edge_ends(HUB, with_attrs=False)
        assert len(ends) > 60
        groups = sorted({(e.type, e.direction) for e in ends})
        assert groups == [("associated_with", "in"), ("supports", "in")]
        fetched = tx.hop_candidates([HUB], 10)
        # each group's first 10 entries in index order, not the hub's 63 edges
        assert len(fetched) == 10 * len(groups)
        assert sorted(fetched) == sorted(x for t, d in groups
                                         for x in sorted(e.other_id for e in ends if e.type == t)[:10])
        assert tx.next_hop([HUB], [HUB], 10) == sorted({e.other_id for e in ends})[:10]
        assert tx.hop_candidates([HUB], 0) == [] and tx.next_hop([HUB], [HUB], 0) == []
