"""An index on curation_decisions (node_b).

Why: a node's decisions are looked up by either end (node_a = id OR node_b = id) on every node page's
similarity candidates; only node_a had an index, so the other half scanned every decision.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_curation_node_b", "curation_decisions", ["node_b"])


def downgrade() -> None:
    op.drop_index("ix_curation_node_b", table_name="curation_decisions")
