"""An index on embeddings (model, created_at).

Why: the similarity cache checks a cheap stamp (count and latest write of a model's vectors) and
patches in only the vectors written since; both scanned the whole table without this index.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_embeddings_model_created_at", "embeddings", ["model", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_embeddings_model_created_at", table_name="embeddings")
