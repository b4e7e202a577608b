"""SQLAlchemy models: the only place that knows the shape of the tables."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Node(Base):
    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    # lower-cased, whitespace-collapsed title: how ingest recognises a node it already has
    title_norm: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    attrs: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    # provenance: {"document": ..., "span": ...} | {"run": run_id} | {"user": name}
    source: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_nodes_kind_title_norm", "kind", "title_norm"),
        Index("ix_nodes_status", "status"),
    )


class Edge(Base):
    __tablename__ = "edges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False)
    target_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT"), nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    attrs: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    source: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("source_id", "type", "target_id", name="uq_edges_source_type_target"),
        Index("ix_edges_target", "target_id", "type", "source_id"),  # covers in-edges (migration 0004)
        Index("ix_edges_type", "type"),
    )


class Measurement(Base):
    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False, index=True)
    metric: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    err: Mapped[float | None] = mapped_column(Float, nullable=True)
    err_kind: Mapped[str | None] = mapped_column(String(8), nullable=True)
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    split: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dataset: Mapped[str | None] = mapped_column(String(128), nullable=True)
    method: Mapped[str | None] = mapped_column(String(128), nullable=True)
    conditions: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    higher_is_better: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # a registered measure id (graph.measures), what it ran with, and its estimator's floor (migration 0007)
    measure: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    measure_params: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict, server_default="{}")
    floor: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Embedding(Base):
    __tablename__ = "embeddings"

    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # float32, little-endian, L2-normalised
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_embeddings_model_created_at", "model", "created_at"),)


class CurationDecision(Base):
    """A curator's decision about a similarity candidate pair; dismissed pairs do not come back."""

    __tablename__ = "curation_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    node_a: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False)
    node_b: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)  # accepted|merged|unmerged|dismissed
    edge_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_curation_pair", "node_a", "node_b"), Index("ix_curation_node_b", "node_b"))


class Write(Base):
    """One write to the graph, appended in the same transaction as the write itself: who, when, what.

    Append-only: nothing updates or deletes these rows. No foreign keys, so an entry outlives a deleted
    edge and names what was deleted. ``author`` is NULL for what was written before authorship was recorded
    (migration 0008) — never a made-up name.
    """

    __tablename__ = "writes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    author: Mapped[str | None] = mapped_column(String(128), nullable=True)  # --user / FINDINGS_USER / OS user
    action: Mapped[str] = mapped_column(String(32), nullable=False)  # node.add, edge.delete, curation.merged, …
    subject: Mapped[str] = mapped_column(String(255), nullable=False)  # node id, "edge:12", "measurement:7", …
    node_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the node the write concerns
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    __table_args__ = (
        Index("ix_writes_at", "at"),
        Index("ix_writes_author_at", "author", "at"),
        Index("ix_writes_subject", "subject", "action"),
        Index("ix_writes_node_id", "node_id"),
    )


class Identifier(Base):
    """An external identifier of a node (``arxiv`` 2401.01234, ``doi`` 10.1000/xyz): how a paper met again in
    another file or on arXiv is recognised by an indexed lookup, not by a scan of JSON attrs (migration 0009).

    ``(scheme, value)`` is the primary key: one identifier names one node. Values are stored normalised
    (an arXiv id without its version, a DOI lower-cased without its resolver prefix).
    """

    __tablename__ = "identifiers"

    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False)

    __table_args__ = (Index("ix_identifiers_node_id", "node_id"),)


class EdgeCount(Base):
    """How many edges of one type touch a node in one direction (``out``: the node is their source, ``in``:
    their target): what a node page shows as each group's count, one indexed range read for a hub with a
    quarter of a million edges (migration 0010).

    Derived: triggers on ``edges`` keep it exact on every insert, delete and change of an end or the type,
    and delete a row whose count reaches 0; the code only reads it (and the SQLite bulk insert adds a batch's
    counts in one statement instead of the per-row trigger). ``findings check`` compares it with the edges.
    """

    __tablename__ = "edge_counts"

    node_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = {"sqlite_with_rowid": False}
