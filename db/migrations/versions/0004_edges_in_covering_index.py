"""In-edges read from an index alone: ``ix_edges_target`` becomes (target_id, type, source_id).

Why: a popular author, category or method has thousands of in-edges; with the source id in the index
(mirroring the unique (source_id, type, target_id) for out-edges) listing them or walking a
neighbourhood no longer reads one scattered table row per edge.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_edges_target", table_name="edges")
    op.create_index("ix_edges_target", "edges", ["target_id", "type", "source_id"])


def downgrade() -> None:
    op.drop_index("ix_edges_target", table_name="edges")
    op.create_index("ix_edges_target", "edges", ["target_id", "type"])
