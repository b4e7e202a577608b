"""Look-ups of many values at once (an ingest batch's ids, identifiers and titles): on SQLite one statement
reads them all through json_each, elsewhere lists of bound parameters. Both give what one look-up per
value would."""
from __future__ import annotations

import pytest

from graph.api import Graph
from tests.pg import store_url  # noqa: F401 - the fixture over both stores

N = 1200  # over the 500 (900) values a list of bound parameters takes: the one-statement path on SQLite


@pytest.fixture
def filled(store_url):  # noqa: F811
    g = Graph(store_url)
    nodes = [{"id": f"paper:p{i}", "kind": "paper", "title": f"Paper ünï {i} \"quoted\" \\ {i % 7}",
              "attrs": {"arxiv_id": f"2401.{i:05d}"}} for i in range(N)]
    g.bulk_load(nodes)
    return g, nodes


def test_many_ids_identifiers_and_titles_are_found_as_one_at_a_time_would_find_them(filled):
    g, nodes = filled
    # held and missing values interleaved, the first and last in sorted order held
    held = [n["id"] for n in nodes if n["id"] != "paper:p7"]
    asked = held + [f"paper:p{i}x" for i in range(300)] + ["paper:p0"]
    with g.store.read() as tx:
        assert tx.existing_node_ids(asked) == set(held)
        assert set(tx.get_nodes(asked)) == set(held)
        assert tx.get_nodes(asked)["paper:p4"].title == nodes[4]["title"]
        values = [n["attrs"]["arxiv_id"] for n in nodes[1:]] + ["2401.00001x"] * 3
        assert tx.nodes_by_identifier("arxiv", values) == {n["attrs"]["arxiv_id"]: n["id"] for n in nodes[1:]}
        titles = [n["title"].lower() for n in nodes] + ["paper ünï 1 no such title"]
        found = tx.nodes_by_titles("paper", titles)
        assert {k: [x.id for x in v] for k, v in found.items()} == {n["title"].lower(): [n["id"]] for n in nodes}
        # the same, one value at a time
        assert all(tx.existing_node_ids([x]) == ({x} if x in held else set()) for x in asked[::37])
