"""Stored edge counts: ``edge_counts`` (node, edge type, direction → n), kept exact by triggers on ``edges``.

Why: a node page shows each group's (edge type, direction) count. Counted on the edge indexes, a hub's
count costs the size of its group (240,000 index entries for category cs.LG at a million nodes: 41 ms);
read from this table it is one indexed range read, whatever the degree.

The table is derived, never written by the code: triggers on ``edges`` add one for every insert, take one
off for every delete, and move one on an update of either end or of the type; a row whose count reaches 0
is deleted, so a node has a row exactly for each group it has. A self-loop counts in both directions, as
the GROUP BY it replaces did. On PostgreSQL inserts are counted per statement (its new rows grouped: the
bulk insert is one COPY), deletes and updates per row; on SQLite all per row, and the bulk
insert path (``db.queries.bulk``) drops the insert trigger, adds the batch's counts in one aggregate
statement per direction and re-creates the trigger from its stored SQL. Existing edges are counted here,
one GROUP BY per direction.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_KEY = "node_id = {node} AND type = {type} AND direction = '{direction}'"


def _add(node: str, type_: str, direction: str) -> str:
    return (f"INSERT INTO edge_counts (node_id, type, direction, n) VALUES ({node}, {type_}, '{direction}', 1) "
            f"ON CONFLICT (node_id, type, direction) DO UPDATE SET n = edge_counts.n + 1;")


def _take(node: str, type_: str, direction: str) -> str:
    key = _KEY.format(node=node, type=type_, direction=direction)
    return f"UPDATE edge_counts SET n = n - 1 WHERE {key}; DELETE FROM edge_counts WHERE {key} AND n <= 0;"


def _sqlite_triggers() -> dict[str, str]:
    add = _add("new.source_id", "new.type", "out") + " " + _add("new.target_id", "new.type", "in")
    take = _take("old.source_id", "old.type", "out") + " " + _take("old.target_id", "old.type", "in")
    return {
        "edge_counts_ai": f"CREATE TRIGGER edge_counts_ai AFTER INSERT ON edges BEGIN {add} END",
        "edge_counts_ad": f"CREATE TRIGGER edge_counts_ad AFTER DELETE ON edges BEGIN {take} END",
        "edge_counts_au": ("CREATE TRIGGER edge_counts_au AFTER UPDATE OF source_id, target_id, type ON edges "
                           f"BEGIN {take} {add} END"),
    }


def _grouped_add(rows: str) -> str:
    """Add the groups of the edges in ``rows`` (a table of new edges) to the counts, one statement a direction,
    rows locked in key order (two concurrent writers cannot deadlock on them)."""
    return " ".join(
        f"INSERT INTO edge_counts (node_id, type, direction, n) SELECT {node}, type, '{direction}', count(*) "
        f"FROM {rows} WHERE true GROUP BY {node}, type ORDER BY {node}, type "
        "ON CONFLICT (node_id, type, direction) DO UPDATE SET n = edge_counts.n + excluded.n;"
        for node, direction in (("source_id", "out"), ("target_id", "in")))


def _pg_functions() -> list[str]:
    # inserts are counted once per statement from its transition table (the bulk insert is one COPY: one
    # aggregate, not a trigger call per row); deletes and updates, one edge at a time in the code, per row
    # (PostgreSQL allows no transition table on a trigger with a column list)
    add = _add("NEW.source_id", "NEW.type", "out") + " " + _add("NEW.target_id", "NEW.type", "in")
    take = _take("OLD.source_id", "OLD.type", "out") + " " + _take("OLD.target_id", "OLD.type", "in")
    return [
        "CREATE FUNCTION edge_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_grouped_add('new_edges')} RETURN NULL; END $$",
        "CREATE FUNCTION edge_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{take} IF TG_OP = 'UPDATE' THEN {add} END IF; RETURN NULL; END $$",
        "CREATE TRIGGER edge_counts_insert AFTER INSERT ON edges REFERENCING NEW TABLE AS new_edges "
        "FOR EACH STATEMENT EXECUTE FUNCTION edge_counts_insert()",
        "CREATE TRIGGER edge_counts_change AFTER DELETE OR UPDATE OF source_id, target_id, type ON edges "
        "FOR EACH ROW EXECUTE FUNCTION edge_counts_change()",
    ]


def upgrade() -> None:
    op.create_table(
        "edge_counts",
        sa.Column("node_id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(32), primary_key=True),
        sa.Column("direction", sa.String(3), primary_key=True),  # 'out' (node is the source) or 'in'
        sa.Column("n", sa.Integer, nullable=False),
        sqlite_with_rowid=False,  # the primary key is the table: a node's groups are one range of it
    )
    for node, direction in (("source_id", "out"), ("target_id", "in")):
        op.execute(f"INSERT INTO edge_counts (node_id, type, direction, n) "
                   f"SELECT {node}, type, '{direction}', count(*) FROM edges GROUP BY {node}, type")
    if op.get_bind().dialect.name == "postgresql":
        for sql in _pg_functions():
            op.execute(sql)
    else:
        for sql in _sqlite_triggers().values():
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("edge_counts_insert", "edge_counts_change"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON edges")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in _sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("edge_counts")
