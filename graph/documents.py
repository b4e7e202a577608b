"""What a parser returns: a document turned into draft nodes and edges, before they touch the store.

A parser never talks to the database. It returns a :class:`ParsedDocument` whose nodes carry a
document-local ``key``; edges refer to those keys. :mod:`graph.ingest` resolves drafts against the
store (a node with the same kind and normalised title is reused, so re-ingesting adds nothing) and
writes everything in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class NodeDraft:
    key: str
    kind: str
    title: str
    description: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    # When given, the store uses this id (e.g. the ``finding:<slug>`` printed on a finding page)
    # instead of deriving one from the title.
    preferred_id: str | None = None
    # explicit measurements (dicts in the MeasurementIn shape); when empty, the store parses
    # quantities such as ``IIA of 0.997±0.001`` out of a finding's title or description
    measurements: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EdgeDraft:
    source: str  # NodeDraft.key
    type: str
    target: str  # NodeDraft.key
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedDocument:
    format: str
    source: str  # file name or "pasted text"
    nodes: list[NodeDraft] = field(default_factory=list)
    edges: list[EdgeDraft] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def node(self, key: str) -> NodeDraft:
        for n in self.nodes:
            if n.key == key:
                return n
        raise KeyError(key)
