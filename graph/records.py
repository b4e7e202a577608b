"""In-memory values the store hands back: plain dataclasses, no SQL, no session attached."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
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
    id: int
    source_id: str
    type: str
    target_id: str
    attrs: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class EdgeView:
    """An edge seen from one of its ends."""

    edge: Edge
    direction: str  # "out" | "in"
    node: Node  # the other end

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.edge.type,
            "direction": self.direction,
            "node": self.node.brief(),
            "attrs": self.edge.attrs,
        }


@dataclass
class EdgeBrief:
    """An edge seen from one of its ends, with only the id, kind, title and status of the other end."""

    edge_id: int
    type: str
    direction: str  # "out" | "in"
    attrs: dict[str, Any]
    node_id: str  # the other end
    node_kind: str
    node_title: str
    node_status: str

    def to_dict(self) -> dict[str, Any]:  # the shape of EdgeView.to_dict
        return {
            "type": self.type,
            "direction": self.direction,
            "node": {"id": self.node_id, "kind": self.node_kind, "title": self.node_title},
            "attrs": self.attrs,
        }
