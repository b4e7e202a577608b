"""The controlled vocabulary: node kinds, statuses, and typed edges with their allowed endpoints.

Every edge written to the store is checked here first; an edge that breaks the vocabulary is refused
with a sentence that says which rule it broke.
"""
from __future__ import annotations

from dataclasses import dataclass

NODE_KINDS: tuple[str, ...] = (
    "paper", "claim", "finding", "run", "author", "category", "dataset", "method", "metric",
)
STATUSES: tuple[str, ...] = ("active", "superseded", "retracted", "merged")
ERR_KINDS: tuple[str, ...] = ("std", "sem", "ci95")

ANY = frozenset(NODE_KINDS)


@dataclass(frozen=True)
class EdgeType:
    name: str
    sources: frozenset[str]
    targets: frozenset[str]
    meaning: str
    same_kind: bool = False  # both ends must be of the same kind
    symmetric: bool = False  # direction carries no meaning


EDGE_TYPES: dict[str, EdgeType] = {
    e.name: e
    for e in (
        EdgeType("extracted_from", frozenset({"finding", "claim"}), frozenset({"paper"}),
                 "where it was stated"),
        EdgeType("supports", frozenset({"finding"}), frozenset({"claim"}), "evidence for a claim"),
        EdgeType("contradicts", frozenset({"finding"}), frozenset({"claim"}), "evidence against a claim"),
        EdgeType("associated_with", frozenset({"finding", "claim"}), frozenset({"finding", "claim"}),
                 "related without stance", symmetric=True),
        EdgeType("replicates", frozenset({"finding"}), frozenset({"finding"}),
                 "a run's result agrees with a published one"),
        EdgeType("fails_to_replicate", frozenset({"finding"}), frozenset({"finding"}),
                 "a run's result disagrees with a published one"),
        EdgeType("produced_by", frozenset({"finding"}), frozenset({"run"}), "the experiment that measured it"),
        EdgeType("authored_by", frozenset({"paper"}), frozenset({"author"}), "who wrote the paper"),
        EdgeType("in_category", frozenset({"paper"}), frozenset({"category"}),
                 "a tag or category of the paper, with `confidence` in attrs"),
        EdgeType("listed_similar", frozenset({"paper", "finding"}), frozenset({"paper", "finding"}),
                 "a source document listed it as similar (its score in attrs)"),
        EdgeType("duplicate_of", ANY, ANY, "merged into the target; the source keeps its id with status merged",
                 same_kind=True),
        EdgeType("subcategory_of", frozenset({"category"}), frozenset({"category"}),
                 "taxonomy path A > B > C"),
        EdgeType("uses_method", frozenset({"finding", "run", "paper"}), frozenset({"method"}),
                 "the method a result or paper is about"),
        EdgeType("uses_dataset", frozenset({"finding", "run", "paper"}), frozenset({"dataset"}),
                 "the data a result was measured on"),
        EdgeType("measures", frozenset({"finding"}), frozenset({"metric"}), "the metric a finding reports"),
    )
}


def check_kind(kind: str) -> str:
    if kind not in NODE_KINDS:
        raise ValueError(f"unknown node kind {kind!r}; expected one of: {', '.join(NODE_KINDS)}")
    return kind


def check_edge(edge_type: str, source_kind: str, target_kind: str) -> EdgeType:
    """Return the edge type if an edge of that type may join these kinds; raise ValueError otherwise."""
    et = EDGE_TYPES.get(edge_type)
    if et is None:
        raise ValueError(f"unknown edge type {edge_type!r}; expected one of: {', '.join(EDGE_TYPES)}")
    if et.same_kind and source_kind != target_kind:
        raise ValueError(f"{edge_type} joins nodes of the same kind, not {source_kind} → {target_kind}")
    if source_kind not in et.sources or target_kind not in et.targets:
        raise ValueError(
            f"{edge_type} goes from {'/'.join(sorted(et.sources))} to {'/'.join(sorted(et.targets))}, "
            f"not {source_kind} → {target_kind}"
        )
    return et
