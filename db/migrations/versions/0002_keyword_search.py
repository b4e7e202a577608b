"""Keyword search over titles and descriptions.

Why: `findings search` must rank by relevance on both stores: SQLite gets an FTS5 table kept in step
by triggers, PostgreSQL a GIN index over a weighted tsvector expression.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_TSVECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B')"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE nodes_fts USING fts5("
            "title, description, content='nodes', content_rowid='rowid', tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER nodes_fts_ai AFTER INSERT ON nodes BEGIN "
            "INSERT INTO nodes_fts(rowid, title, description) VALUES (new.rowid, new.title, new.description); END"
        )
        op.execute(
            "CREATE TRIGGER nodes_fts_ad AFTER DELETE ON nodes BEGIN "
            "INSERT INTO nodes_fts(nodes_fts, rowid, title, description) "
            "VALUES ('delete', old.rowid, old.title, old.description); END"
        )
        op.execute(
            "CREATE TRIGGER nodes_fts_au AFTER UPDATE OF title, description ON nodes BEGIN "
            "INSERT INTO nodes_fts(nodes_fts, rowid, title, description) "
            "VALUES ('delete', old.rowid, old.title, old.description); "
            "INSERT INTO nodes_fts(rowid, title, description) VALUES (new.rowid, new.title, new.description); END"
        )
        op.execute("INSERT INTO nodes_fts(nodes_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_nodes_fts ON nodes USING GIN (({PG_TSVECTOR}))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trig in ("nodes_fts_ai", "nodes_fts_ad", "nodes_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trig}")
        op.execute("DROP TABLE IF EXISTS nodes_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_nodes_fts")
