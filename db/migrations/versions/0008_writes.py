"""The write log: ``writes``, one row per write (who, when, what), appended in the write's own transaction.

Why: a graph a lab shares needs "who did what": who added a node, accepted a candidate, merged two nodes,
ran an experiment. One append-only table covers every kind of write, updates and deletes included, and
answers ``findings log`` with one indexed read; author columns on each table would say who created a row
but not who changed or deleted it.

Existing rows are kept as they are and get no entries: their author is unknown, and shows as ``null``
(``findings show`` gives the node's stored ``created_at`` as the time it was added). NULL rather than a
placeholder name, so that no filter by user can match them and no real user can be mistaken for them.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "writes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(128), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("node_id", sa.String(255), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_writes_at", "writes", ["at"])
    op.create_index("ix_writes_author_at", "writes", ["author", "at"])
    op.create_index("ix_writes_subject", "writes", ["subject", "action"])
    op.create_index("ix_writes_node_id", "writes", ["node_id"])


def downgrade() -> None:
    op.drop_table("writes")
