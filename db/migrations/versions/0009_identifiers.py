"""External identifiers of nodes: ``identifiers`` (scheme, value → node), unique per (scheme, value).

Why: papers now arrive from arXiv, BibTeX files and metadata snapshots, and the same paper must be
recognised by its arXiv id or DOI however it came. A lookup by identifier has to be an indexed read at a
million papers; a scan of every node's JSON ``attrs`` is not. The primary key (scheme, value) is that index
and makes one identifier name one node.

Existing papers whose ``attrs`` hold ``arxiv_id`` (or ``arxiv``, as the curated seed wrote it) or ``doi``
are backfilled with the values normalised as the code normalises them (an arXiv id without its version,
``arXiv:`` prefix or URL; a DOI lower-cased without ``doi:`` or the resolver URL). Where two papers carry
the same identifier, the older one (then the smaller id) keeps it; unreadable values are left out.

Revision ID: 0009
Revises: 0008
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# the same rules as graph.identifiers (a migration is frozen: it does not import the code it migrates)
_NEW = re.compile(r"(\d{4}\.\d{4,5})(?:v\d+)?")
_OLD = re.compile(r"([a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(?:v\d+)?", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S+")


def _arxiv(value):
    if not isinstance(value, str):
        return None
    v = re.sub(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/", "", value.strip(), flags=re.I)
    v = re.sub(r"^arxiv:\s*", "", v, flags=re.I)
    v = v[:-4] if v.lower().endswith(".pdf") else v
    m = _NEW.fullmatch(v)
    if m:
        return m.group(1)
    m = _OLD.fullmatch(v)
    if not m:
        return None
    archive, _, number = m.group(1).partition("/")
    name, dot, subject = archive.partition(".")
    return f"{name.lower()}{dot}{subject.upper()}/{number}"


def _doi(value):
    if not isinstance(value, str):
        return None
    v = re.sub(r"^(?:https?://)?(?:dx\.)?doi\.org/|^doi:\s*", "", value.strip(), flags=re.I).rstrip(".").lower()
    return v if _DOI.fullmatch(v) and len(v) <= 255 else None


def upgrade() -> None:
    op.create_table(
        "identifiers",
        sa.Column("scheme", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("node_id", sa.String(255), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_identifiers_node_id", "identifiers", ["node_id"])

    nodes = sa.table("nodes", sa.column("id", sa.String), sa.column("kind", sa.String),
                     sa.column("attrs", sa.JSON), sa.column("created_at", sa.DateTime))
    ids = sa.table("identifiers", sa.column("scheme", sa.String), sa.column("value", sa.String),
                   sa.column("node_id", sa.String))
    bind = op.get_bind()
    seen: set = set()
    rows = []
    q = sa.select(nodes.c.id, nodes.c.attrs).where(nodes.c.kind == "paper").order_by(nodes.c.created_at, nodes.c.id)
    for node_id, attrs in bind.execute(q):
        attrs = attrs or {}
        arxiv = _arxiv(attrs.get("arxiv_id")) or _arxiv(attrs.get("arxiv"))
        for scheme, value in (("arxiv", arxiv), ("doi", _doi(attrs.get("doi")))):
            if value and (scheme, value) not in seen:
                seen.add((scheme, value))
                rows.append({"scheme": scheme, "value": value, "node_id": node_id})
    for i in range(0, len(rows), 500):
        bind.execute(sa.insert(ids), rows[i:i + 500])


def downgrade() -> None:
    op.drop_table("identifiers")
