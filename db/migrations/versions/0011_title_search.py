"""A keyword index over titles alone, read in order of title length.

Why: ranking every match with bm25 costs time in proportion to the matches, and at a million nodes a
query's words can be in most of them. Keyword search now lists the nodes whose title holds the words
first, shortest title first (see db.keyword_rank); an index whose entries come in that order gives the
first k of them without reading the rest.

SQLite: a contentless FTS5 table ``nodes_title`` (same tokenizer as ``nodes_fts``) whose rowid is the
key ``length(title) << 40 | node rowid``: FTS5 keeps each word's entries in rowid order, so a match read
``ORDER BY rowid`` comes shortest title first and stops at the limit. Triggers keep it in step with
``nodes`` (a contentless table is told the old title to delete it); the bulk path fills it after its rows.
PostgreSQL: a GIN index on the title's tsvector and a B-tree on (length(title), id), which lets the
planner walk titles shortest first when a query's words are common.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# the index key of a node row (a migration is frozen: db.keyword_rank holds the code's copy)
KEY_NEW = "((min(length(new.title), 4194303) << 40) | new.rowid)"
KEY_OLD = "((min(length(old.title), 4194303) << 40) | old.rowid)"
KEY = "((min(length(title), 4194303) << 40) | rowid)"
TRIGGERS = (
    ("nodes_title_ai", "AFTER INSERT ON nodes BEGIN "
     f"INSERT INTO nodes_title(rowid, title) VALUES ({KEY_NEW}, new.title); END"),
    ("nodes_title_ad", "AFTER DELETE ON nodes BEGIN "
     f"INSERT INTO nodes_title(nodes_title, rowid, title) VALUES ('delete', {KEY_OLD}, old.title); END"),
    ("nodes_title_au", "AFTER UPDATE OF title ON nodes BEGIN "
     f"INSERT INTO nodes_title(nodes_title, rowid, title) VALUES ('delete', {KEY_OLD}, old.title); "
     f"INSERT INTO nodes_title(rowid, title) VALUES ({KEY_NEW}, new.title); END"),
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE nodes_title USING fts5(title, content='', tokenize='porter unicode61')")
        # in key order: FTS5 writes a segment each time a rowid arrives below the one before
        op.execute(f"INSERT INTO nodes_title(rowid, title) SELECT {KEY} AS k, title FROM nodes ORDER BY k")
        for name, body in TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {body}")
    elif dialect == "postgresql":
        op.execute("CREATE INDEX ix_nodes_title_fts ON nodes USING GIN ((to_tsvector('english', title)))")
        op.execute('CREATE INDEX ix_nodes_title_length ON nodes ((length(title)), id COLLATE "C")')


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name, _ in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS nodes_title")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_nodes_title_fts")
        op.execute("DROP INDEX IF EXISTS ix_nodes_title_length")
