"""The tables to back up, read from PostgreSQL's system catalog rather than from a list in
the code.

Every ordinary table of the `public` schema is data, except Alembic's bookkeeping and the
`ops_*` tables (this server's operations history, which a restored server starts afresh).
A table added by a later migration is therefore backed up without any change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

SCHEMA = "public"
EXCLUDED_TABLES = frozenset({"alembic_version"})
OPS_PREFIX = "ops_"


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    sequence_columns: tuple[str, ...]
    parents: tuple[str, ...]
    tracked: bool

    @property
    def ident(self) -> sql.Composable:
        return sql.Identifier(SCHEMA, self.name)

    def column_list(self, alias: str | None = None) -> sql.Composable:
        if alias is None:
            return sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        return sql.SQL(", ").join(sql.Identifier(alias, c) for c in self.columns)

    def order_by(self, alias: str | None = None) -> sql.Composable:
        """Primary-key order, or the row's text for a table without a key (checksums)."""
        if not self.key_columns:
            target = sql.Identifier(alias) if alias else self.ident
            return sql.SQL('{}::text COLLATE "C"').format(target)
        if alias is None:
            return sql.SQL(", ").join(sql.Identifier(c) for c in self.key_columns)
        return sql.SQL(", ").join(sql.Identifier(alias, c) for c in self.key_columns)


def is_data_table(name: str) -> bool:
    return name not in EXCLUDED_TABLES and not name.startswith(OPS_PREFIX)


_TABLES = """
SELECT c.oid, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""

_COLUMNS = """
SELECT a.attrelid, a.attname,
       pg_get_serial_sequence(format('%%I.%%I', %(schema)s, c.relname), a.attname) IS NOT NULL
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attrelid, a.attnum
"""

_KEYS = """
SELECT i.indrelid, a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = ANY(%(oids)s) AND i.indisprimary
ORDER BY i.indrelid, array_position(i.indkey::int2[], a.attnum)
"""

_PARENTS = """
SELECT con.conrelid, parent.relname
FROM pg_constraint con
JOIN pg_class parent ON parent.oid = con.confrelid
WHERE con.contype = 'f' AND con.conrelid = ANY(%(oids)s) AND con.confrelid <> con.conrelid
"""

_TRACKED = """
SELECT tgrelid, count(*)
FROM pg_trigger
WHERE tgrelid = ANY(%(oids)s) AND tgfoid = to_regproc('public.ops_track_changes')
GROUP BY tgrelid
"""


def discover_tables(cur: Any) -> list[TableInfo]:
    """Data tables, parents before children (FK order), each with what backup needs."""
    cur.execute(_TABLES, {"schema": SCHEMA})
    oids = {row_value(row, 0): row_value(row, 1) for row in cur.fetchall()}
    oids = {oid: name for oid, name in oids.items() if is_data_table(name)}
    params = {"schema": SCHEMA, "oids": list(oids)}
    columns: dict[int, list[str]] = {oid: [] for oid in oids}
    sequences: dict[int, list[str]] = {oid: [] for oid in oids}
    cur.execute(_COLUMNS, params)
    for row in cur.fetchall():
        oid, name, has_sequence = (row_value(row, i) for i in range(3))
        columns[oid].append(name)
        if has_sequence:
            sequences[oid].append(name)
    keys: dict[int, list[str]] = {oid: [] for oid in oids}
    cur.execute(_KEYS, params)
    for row in cur.fetchall():
        keys[row_value(row, 0)].append(row_value(row, 1))
    parents: dict[int, set[str]] = {oid: set() for oid in oids}
    cur.execute(_PARENTS, params)
    for row in cur.fetchall():
        parents[row_value(row, 0)].add(row_value(row, 1))
    cur.execute(_TRACKED, params)
    tracked = {row_value(row, 0) for row in cur.fetchall() if row_value(row, 1) >= 4}
    tables = [
        TableInfo(
            name=name,
            columns=tuple(columns[oid]),
            key_columns=tuple(keys[oid]),
            sequence_columns=tuple(sequences[oid]),
            parents=tuple(sorted(parents[oid] & set(oids.values()))),
            tracked=oid in tracked,
        )
        for oid, name in oids.items()
    ]
    return dependency_order(tables)


def table_sizes(cur: Any, tables: list[TableInfo]) -> dict[str, int]:
    """Each table's size on disk in bytes (with TOAST, without indexes): how to share work."""
    cur.execute(
        """
        SELECT c.relname, pg_table_size(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relname = ANY(%(names)s)
        """,
        {"schema": SCHEMA, "names": [t.name for t in tables]},
    )
    return {row_value(row, 0): int(row_value(row, 1)) for row in cur.fetchall()}


def dependency_order(tables: list[TableInfo]) -> list[TableInfo]:
    """Parents before children, alphabetical among equals; a cycle keeps its members' order."""
    by_name = {table.name: table for table in tables}
    ordered: list[TableInfo] = []
    placed: set[str] = set()
    remaining = sorted(by_name)
    while remaining:
        ready = [n for n in remaining if set(by_name[n].parents) <= placed]
        if not ready:  # a foreign-key cycle: take the rest as they come
            ready = remaining[:1]
        for name in ready:
            ordered.append(by_name[name])
            placed.add(name)
        remaining = [n for n in remaining if n not in placed]
    return ordered


def row_value(row: Any, index: int) -> Any:
    """Column `index` of a tuple row or a dict row (RealDictCursor)."""
    if isinstance(row, dict):
        return list(row.values())[index]
    return row[index]
