"""Composite writes that the CLI and the app share: a node plus the edges that come with it."""
from __future__ import annotations

from typing import Any

from graph import core
from graph.api import Graph
from graph.ids import normalize_title


def add_with_links(graph: Graph, data: dict[str, Any], *, paper: str | None = None,
                   authors: list[str] | None = None, actor: str | None = None) -> str:
    """Add a node; tie it to its paper (``extracted_from``) and its authors (``authored_by``).

    Authors are matched by name to existing author nodes, so one person is one node. All in one
    transaction: if the paper id is wrong, the node is not added either. ``actor`` (default: the store's
    user) goes into the provenance of the node and its edges.
    """
    actor = actor or graph.store.user
    data = {**data, "source": {**data.get("source", {}), "user": actor}}

    def body(tx) -> str:
        node_id = core.create_node(tx, data)
        if paper:
            core.add_edge(tx, node_id, "extracted_from", paper, {}, {"user": actor})
        for i, name in enumerate(a.strip() for a in authors or []):
            if not name:
                continue
            found = tx.find_nodes_by_title("author", normalize_title(name))
            author_id = found[0].id if found else core.create_node(tx, {"kind": "author", "title": name,
                                                                          "source": {"user": actor}})
            core.add_edge(tx, node_id, "authored_by", author_id, {"position": i}, {"user": actor})
        return node_id

    return graph.store.run_in_transaction(body)
