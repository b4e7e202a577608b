"""In-memory values the store hands back: plain dataclasses, no SQL, no session attached.

Edges come in three shapes, one per kind of reader:

- :class:`Edge`: a stored edge, both ends, attrs and provenance;
- :class:`EdgeEnd`: an edge seen from one of its ends, with the id, kind and title of the node at the
  other end (what listings and rankings of a node's neighbours need, without loading those nodes);
- :class:`EdgeView`: an edge seen from one of its ends, with the whole node at the other end.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class Measurement:
    metric: str
    value: float
    err: float | None = None
    err_kind: str | None = None
    n: int | None = None
    split: str | None = None
    dataset: str | None = None
    method: str | None = None
    conditions: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool | None = None
    measure: str | None = None  # a registered measure id (graph.measures); None: no measure stated
    measure_params: dict[str, Any] = field(default_factory=dict)  # what it ran with: versions, points used
    floor: dict[str, Any] | None = None  # the estimator's floor on the same data: {"mean", "sem", "n"}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def display(self) -> str:
        if self.err is None:
            return f"{self.value:g}"
        return f"{self.value:g}±{self.err:g}"


@dataclass
class Node:
    id: str
    kind: str
    title: str
    description: str = ""
    status: str = "active"
    attrs: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def brief(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "title": self.title}


@dataclass
class Edge:
    """A stored edge: ``source_id`` --``type``--> ``target_id``; ``source`` is its provenance."""

    id: int
    source_id: str
    type: str
    target_id: str
    attrs: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EdgeEnd:
    """An edge seen from one of its ends, with the id, kind and title of the node at the other end.

    ``direction`` is "out" where the end it is seen from is the edge's source, "in" where it is the
    target (a self-loop is seen from both). ``attrs`` is None only where the reader was asked to leave
    them out: ranking a hub's thousands of neighbours needs none. Slotted rather than frozen because
    readers build one per edge, and a frozen dataclass costs about four times as much to build.
    """

    id: int
    type: str
    direction: str  # "out" | "in"
    other_id: str
    other_kind: str
    other_title: str
    attrs: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The shape of an edge in ``findings show --json``."""
        return {
            "type": self.type,
            "direction": self.direction,
            "node": {"id": self.other_id, "kind": self.other_kind, "title": self.other_title},
            "attrs": self.attrs,
        }


@dataclass
class EdgeView:
    """An edge seen from one of its ends, with the whole node at the other end."""

    edge: Edge
    direction: str  # "out" | "in"
    node: Node  # the other end


@dataclass(slots=True)
class EvidenceEdge:
    """An edge into a claim or a finding from the node whose evidence it carries (``supports``,
    ``contradicts``, ``associated_with``, ``replicates``, ``fails_to_replicate``), with that node's kind,
    title and status: what weighing the evidence of ``subject`` needs, without loading whole nodes."""

    subject: str  # the edge's target: the claim or finding the evidence is about
    type: str
    attrs: dict[str, Any]
    source: str  # the edge's source: the finding that carries the evidence
    kind: str
    title: str
    status: str


@dataclass(slots=True)
class Origin:
    """Where a node comes from: the runs that produced it (``produced_by``) and the papers it was extracted
    from (``extracted_from``), ids in edge order."""

    runs: list[str] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)


@dataclass
class Write:
    """One entry of the write log: who (``user``; None for writes made before authorship was recorded),
    when, which ``action`` on what (``id``: a node id, ``edge:N``, ``measurement:N``, ``decision:N``), the
    node it concerns, and what else the entry says (``details``)."""

    seq: int
    at: datetime
    user: str | None
    action: str
    id: str
    node: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The shape of an entry in ``findings log --json``."""
        return {"at": utc_iso(self.at), "user": self.user, "action": self.action, "id": self.id,
                "node": self.node, "details": self.details, "seq": self.seq}


def utc_iso(value: datetime | str | None) -> str | None:
    """A stored time as ISO 8601 in UTC. SQLite hands back the UTC wall time without a zone (a datetime,
    or its text on the quick read path); PostgreSQL an aware time in the session's zone."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.isoformat()


def added_json(entry: tuple[str | None, Any] | None, created_at: Any) -> dict[str, Any]:
    """Who added a node and when, as ``show --json`` gives it: from its write-log entry, or for a node
    written before authorship was recorded, ``user`` null and the node's own ``created_at``."""
    if entry is None:
        return {"user": None, "at": utc_iso(created_at)}
    return {"user": entry[0], "at": utc_iso(entry[1])}
