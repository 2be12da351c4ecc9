"""All the SQL of the CSV import but the rating rule, which is the reviews area's
(`shared.reviews.repository.refresh_caregiver_ratings`). Batches only: every function is a few
statements, however many rows it is given. The caregiver files (the national-size ones) and the
upserts are staged: `stage` COPYs the validated rows into a temporary table typed like the
target's columns, and one set-based statement per table reads it (INSERT ... SELECT ... ON
CONFLICT, UPDATE ... FROM, DELETE ... NOT EXISTS). The patient-side files, a few thousand rows,
still go through execute_values pages of PAGE_SIZE rows or arrays through unnest.

Updates compare before they write (`IS DISTINCT FROM`; every upsert is `upsert_if_distinct`),
so a re-run of an unchanged file changes no row: no updated_at moves and the incremental backups
have nothing new to copy. The writers return the keys of the rows they actually wrote (RETURNING
lists only those): that is how the report tells updated rows from unchanged ones. Table and
column names in f-strings come from the constants here, never from input. Set differences
against a stage are `NOT EXISTS` over the analysed temporary table (a hashed anti-join); against
arrays, `NOT IN (SELECT * FROM unnest(...))`, which PostgreSQL runs as a hashed subplan (linear),
where a correlated NOT EXISTS over unnest would compare every row with every row; no value is
NULL there.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypedDict, cast

from psycopg2 import sql
from psycopg2.extras import Json, execute_values

from shared.db import Cursor

PAGE_SIZE = 5000
#: pg_advisory_xact_lock key: two imports never interleave (the lookup decides insert vs update).
IMPORT_LOCK_KEY = 0x4E42_494D_5054  # "NBIMPT"

#: Lookup entity -> (table, id column) its target_id points into.
ENTITY_TARGETS: dict[str, tuple[str, str]] = {
    "caregiver": ("caregivers", "caregiver_id"),
    "guardian": ("guardians", "guardian_id"),
    "patient": ("patients", "patient_id"),
    "matching_request": ("matching_requests", "request_id"),
    "matching": ("matching_results", "matching_id"),
    "review": ("reviews", "review_id"),
}
CODE_SET_TABLES = ("caregiver_certifications", "caregiver_specialties")
PERSONALITY_TABLES = {"caregiver_personality": "caregiver_id", "patient_personality": "patient_id"}

#: A patients row in _PATIENT_COLUMNS order: patient_id, guardian_id, name, birth_date, gender,
#: height_cm, weight_kg, care_level, care_address, region_code.
PatientValues = tuple[int, int, str, date, str, Decimal | None, Decimal | None, str, str, str]
#: A synthetic request: request_id, patient_id, requested_by, days, time_slots, start_date,
#: created_at.
RequestValues = tuple[int, int, int, list[str], list[dict[str, str]], date, datetime | None]
#: A matching_results row in _RESULT_COLUMNS order.
ResultValues = tuple[
    int,  # matching_id
    int,  # request_id
    int,  # patient_id
    int,  # caregiver_id
    Decimal,  # score
    str,  # grade
    str,  # status
    Decimal | None,  # personality_score
    Decimal | None,  # specialty_score
    Decimal | None,  # region_score
    str | None,  # ai_comment
    date | None,  # contract_start_date
    date | None,  # contract_end_date
    datetime | None,  # created_at
]
#: A reviews row in _REVIEW_COLUMNS order: review_id, matching_id, caregiver_id, reviewer_id,
#: reviewer_role, rating, comment, created_at.
ReviewValues = tuple[int, int, int, int, str, int, str | None, datetime | None]


class MatchingResultRow(TypedDict):
    """The columns of matching_results the import reads back."""

    matching_id: int
    request_id: int
    patient_id: int
    caregiver_id: int
    status: str


def _values(
    cur: Cursor,
    statement: str | sql.Composable,
    rows: Sequence[tuple[Any, ...]],
    template: str | None = None,
) -> list[Any]:
    """execute_values in pages; the fetched rows when the statement returns any."""
    if not rows:
        return []
    if isinstance(statement, sql.Composable):
        statement = statement.as_string(cur)
    fetch = "RETURNING" in statement
    result = execute_values(
        cur, statement, rows, template=template, page_size=PAGE_SIZE, fetch=fetch
    )
    return result or []


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_stages = itertools.count(1)


def _copy_field(value: Any) -> str:
    """One value in COPY's text format (NULL is \\N; booleans t/f; lists as array literals)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if type(value) is int:
        return str(value)
    if isinstance(value, list):
        value = _array(value)
    return str(value).translate(_COPY_ESCAPES)


def stage(cur: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """COPY `rows` into a new temporary table shaped like `columns` of `table` (their types,
    no constraints, dropped at commit); its name. One COPY replaces thousands of VALUES pages:
    the set-based statements then read the staged rows in one pass each."""
    name = f"import_stage_{next(_stages)}"
    cur.execute(
        f"CREATE TEMP TABLE {name} ON COMMIT DROP AS"  # noqa: S608 (constants)
        f" SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
    )
    buffer = io.StringIO()
    buffer.writelines("\t".join(map(_copy_field, row)) + "\n" for row in rows)
    buffer.seek(0)
    cur.copy_expert(f"COPY {name} ({', '.join(columns)}) FROM STDIN", buffer)
    cur.execute(f"ANALYZE {name}")
    return name


def _array(values: Iterable[Any]) -> str:
    """An array parameter as ONE PostgreSQL array literal ('{1,2,3}'; the SQL casts it, or the
    column's type resolves it). psycopg2 sends a Python list as ARRAY[v1, v2, ...], which the
    server parses and plans as one expression per element: six times slower at 300,000 ids."""
    values = list(values)
    if all(type(value) is int for value in values):  # ids: the common case, no quoting
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join(_element(value) for value in values) + "}"


def _tuples(cur: Cursor, statement: str, params: Any) -> list[tuple[Any, ...]]:
    """Rows as plain tuples, on the same connection and transaction: the lookups below read up
    to a few million rows, where building a dict per row costs more than the query."""
    with cur.connection.cursor() as plain:
        plain.execute(statement, params)
        return plain.fetchall()


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    text = str(value)  # str, date, time: their ISO text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _update_if_distinct(
    table: str, key_columns: Sequence[str], value_columns: Sequence[str]
) -> sql.Composed:
    """The ON CONFLICT clause of `upsert_if_distinct` (see there)."""
    table_id = sql.Identifier(table)
    values = [sql.Identifier(column) for column in value_columns]
    return sql.SQL(
        "ON CONFLICT ({keys}) DO UPDATE SET {assignments} WHERE ({current}) IS DISTINCT FROM"
        " ({incoming})"
    ).format(
        keys=sql.SQL(", ").join(sql.Identifier(column) for column in key_columns),
        assignments=sql.SQL(", ").join(
            sql.SQL("{column} = EXCLUDED.{column}").format(column=column) for column in values
        ),
        current=sql.SQL(", ").join(sql.SQL("{}.{}").format(table_id, column) for column in values),
        incoming=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(column) for column in values),
    )


def upsert_if_distinct(
    cur: Cursor,
    table: str,
    key_columns: Sequence[str],
    value_columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> set[tuple[Any, ...]]:
    """Insert `rows` (the key columns, then the value columns); where the key exists, update the
    value columns, but only when one of them differs. For table t, keys (k) and values (a, b):

        INSERT INTO t (k, a, b) VALUES %s
        ON CONFLICT (k) DO UPDATE SET a = EXCLUDED.a, b = EXCLUDED.b
        WHERE (t.a, t.b) IS DISTINCT FROM (EXCLUDED.a, EXCLUDED.b)
        RETURNING k

    The rows are staged by COPY (`stage`) and written by that one statement, reading the stage
    (`VALUES %s` above stands for it). The key columns must carry a unique constraint and appear
    once in `rows`. Names are quoted as identifiers (psycopg2.sql). Returns the keys (tuples in
    key_columns order) of the rows inserted or updated; a key missing from it was identical.
    """
    if not rows:
        return set()
    columns = [*key_columns, *value_columns]
    staged = stage(cur, table, columns, rows)
    column_list = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staged} {on_conflict}"
        " RETURNING {keys}"
    ).format(
        table=sql.Identifier(table),
        columns=column_list,
        staged=sql.Identifier(staged),
        on_conflict=_update_if_distinct(table, key_columns, value_columns),
        keys=sql.SQL(", ").join(sql.Identifier(column) for column in key_columns),
    )
    return set(_tuples(cur, statement.as_string(cur), None))


# -- run-wide --------------------------------------------------------------------------------


def lock_import(cur: Cursor) -> None:
    """Serialise imports for the rest of this transaction."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (IMPORT_LOCK_KEY,))


def use_operator_limits(cur: Cursor, statement_timeout_ms: int) -> None:
    """For the rest of this transaction: the operator's statement timeout (0: none) instead of
    the request-sized one the pool's connections carry, and memory enough for the set
    differences (`NOT IN (SELECT * FROM unnest(...))` stays a hashed subplan only while the hash
    fits in work_mem; past it PostgreSQL compares every row with every row)."""
    cur.execute("SELECT set_config('statement_timeout', %s, true)", (str(statement_timeout_ms),))
    cur.execute("SET LOCAL work_mem = '256MB'")


def resolve(cur: Cursor, entity: str, source_ids: Iterable[str]) -> dict[str, int]:
    """source id -> target id for the ids imported before whose target row still exists."""
    table, column = ENTITY_TARGETS[entity]
    ids = sorted(set(source_ids))
    if not ids:
        return {}
    rows = _tuples(
        cur,
        f"SELECT s.source_id, s.target_id FROM import_source_ids s"  # noqa: S608 (constants)
        f" JOIN {table} t ON t.{column} = s.target_id"
        " WHERE s.entity = %s AND s.source_id = ANY(%s)",
        (entity, _array(ids)),
    )
    return dict(rows)


def remember(cur: Cursor, entity: str, mapping: dict[str, int]) -> None:
    """Record (or re-point) source id -> target id; updated_at says which run last changed it (a
    re-run that maps an id to the same row leaves the row alone: no write, no change to back up)."""
    if not mapping:
        return
    staged = stage(
        cur,
        "import_source_ids",
        ("entity", "source_id", "target_id"),
        ((entity, source_id, target_id) for source_id, target_id in sorted(mapping.items())),
    )
    cur.execute(
        "INSERT INTO import_source_ids (entity, source_id, target_id)"  # noqa: S608 (constant)
        f" SELECT entity, source_id, target_id FROM {staged}"
        " ON CONFLICT (entity, source_id) DO UPDATE"
        " SET target_id = EXCLUDED.target_id, updated_at = now()"
        " WHERE import_source_ids.target_id <> EXCLUDED.target_id"
    )


def source_ids(cur: Cursor, entity: str, target_ids: Iterable[int]) -> dict[int, str]:
    """target id -> source id (the most recently applied one, if several point at one row)."""
    cur.execute(
        "SELECT DISTINCT ON (target_id) target_id, source_id FROM import_source_ids"
        " WHERE entity = %s AND target_id = ANY(%s) ORDER BY target_id, updated_at DESC",
        (entity, _array(target_ids)),
    )
    return {row["target_id"]: row["source_id"] for row in cur.fetchall()}


def allocate_ids(cur: Cursor, entity: str, count: int) -> list[int]:
    """`count` fresh ids from the identity sequence of the entity's table.

    Rows without a natural key (patients, matchings, reviews) are inserted with ids taken here,
    so each new row's id is known before the INSERT and maps back to its source id exactly.
    """
    if count <= 0:
        return []
    table, column = ENTITY_TARGETS[entity]
    cur.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) AS id FROM generate_series(1, %s)",
        (table, column, count),
    )
    return [row["id"] for row in cur.fetchall()]


# -- users, caregivers, guardians ---------------------------------------------------------------


def ensure_users(
    cur: Cursor,
    role: str,
    users: Sequence[tuple[str, str, str | None]],
    created: set[int] | None = None,
) -> dict[str, tuple[int, str]]:
    """Create the (email, name, gender) accounts that do not exist yet, without a password.

    Returns lower(email) -> (user_id, role) for every email given, existing ones included (the
    caller checks the role: an email taken by another kind of account is a rejected row). The
    user_ids this call created are added to `created` when given.
    """
    if not users:
        return {}
    staged = stage(
        cur,
        "users",
        ("email", "name", "role", "gender"),
        ((email, name, role, gender) for email, name, gender in users),
    )
    inserted = _tuples(
        cur,
        "INSERT INTO users (email, name, role, gender)"  # noqa: S608 (constant)
        f" SELECT email, name, role, gender FROM {staged} ON CONFLICT ((lower(email))) DO NOTHING"
        " RETURNING user_id",
        None,
    )
    if created is not None:
        created.update(row[0] for row in inserted)
    rows = _tuples(
        cur,
        "SELECT lower(u.email), u.user_id, u.role FROM users u"  # noqa: S608 (constant)
        f" WHERE lower(u.email) IN (SELECT lower(email) FROM {staged})",
        None,
    )
    return {email: (user_id, role) for email, user_id, role in rows}


def update_users(cur: Cursor, rows: Sequence[tuple[int, str, str | None]]) -> set[int]:
    """Set (user_id, name, gender) where they differ; the user_ids changed."""
    if not rows:
        return set()
    staged = stage(cur, "users", ("user_id", "name", "gender"), rows)
    written = _tuples(
        cur,
        f"UPDATE users u SET name = v.name, gender = v.gender FROM {staged} v"  # noqa: S608
        " WHERE u.user_id = v.user_id AND (u.name, u.gender) IS DISTINCT FROM"
        " (v.name, v.gender) RETURNING u.user_id",
        None,
    )
    return {row[0] for row in written}


def caregiver_users(cur: Cursor, caregiver_ids: Iterable[int]) -> dict[int, int]:
    """caregiver_id -> user_id."""
    cur.execute(
        "SELECT caregiver_id, user_id FROM caregivers WHERE caregiver_id = ANY(%s)",
        (_array(caregiver_ids),),
    )
    return {row["caregiver_id"]: row["user_id"] for row in cur.fetchall()}


def upsert_caregivers(
    cur: Cursor,
    rows: Sequence[tuple[int, int, str, bool, int, date | None]],
    fresh_users: Collection[int] = frozenset(),
) -> tuple[dict[int, int], set[int]]:
    """(user_id, experience_years, service_region, has_vehicle, hourly_rate, birth_date) rows;
    returns user_id -> caregiver_id for all of them, and the user_ids whose row was written
    (but for `fresh_users`, accounts this run created: their rows are plain inserts)."""
    values = ("experience_years", "service_region", "has_vehicle", "hourly_rate", "birth_date")
    others = insert_fresh(cur, "caregivers", ("user_id", *values), rows, fresh_users)
    written = upsert_if_distinct(cur, "caregivers", ("user_id",), values, others)
    ids = (
        dict(
            _tuples(
                cur,
                "SELECT user_id, caregiver_id FROM caregivers WHERE user_id = ANY(%s)",
                (_array(row[0] for row in rows),),
            )
        )
        if rows
        else {}
    )
    return ids, {key[0] for key in written}


def replace_code_sets(
    cur: Cursor,
    table: str,
    owners: Sequence[int],
    pairs: Sequence[tuple[int, str]],
    fresh: Collection[int] = frozenset(),
) -> set[int]:
    """Make the (caregiver_id, code) set of each owner exactly `pairs` (deletes the rest); the
    owners whose set changed, but for the `fresh` ones (see `insert_fresh`)."""
    if table not in CODE_SET_TABLES:
        raise ValueError(table)
    pairs = insert_fresh(cur, table, ("caregiver_id", "code"), pairs, fresh)
    owners = [owner for owner in owners if owner not in fresh]
    if not owners:
        return set()
    staged = stage(cur, table, ("caregiver_id", "code"), pairs)
    changed = _tuples(
        cur,
        f"DELETE FROM {table} t WHERE t.caregiver_id = ANY(%s)"  # noqa: S608 (constants)
        f" AND NOT EXISTS (SELECT FROM {staged} s"
        " WHERE s.caregiver_id = t.caregiver_id AND s.code = t.code) RETURNING t.caregiver_id",
        (_array(owners),),
    )
    added = _tuples(
        cur,
        f"INSERT INTO {table} (caregiver_id, code)"  # noqa: S608 (constants)
        f" SELECT caregiver_id, code FROM {staged} ON CONFLICT DO NOTHING RETURNING caregiver_id",
        None,
    )
    return {row[0] for row in changed} | {row[0] for row in added}


def insert_fresh(
    cur: Cursor,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    fresh: Collection[int],
) -> list[tuple[Any, ...]]:
    """Insert the rows whose owner (first column) this transaction created: an account, or a
    caregiver on such an account. No other transaction can see such an owner, so no row can
    exist for it and a plain INSERT replaces `ON CONFLICT`'s speculative insertion per row.
    Returns the other rows, for the caller's upsert."""
    if not fresh:
        return list(rows)
    mine = [row for row in rows if row[0] in fresh]
    if mine:
        staged = stage(cur, table, columns, mine)
        cur.execute(
            f"INSERT INTO {table} ({', '.join(columns)})"  # noqa: S608 (constants)
            f" SELECT {', '.join(columns)} FROM {staged}"
        )
    return [row for row in rows if row[0] not in fresh]


def existing_slots(cur: Cursor, caregiver_ids: Iterable[int]) -> set[tuple[int, str, time, time]]:
    rows = _tuples(
        cur,
        "SELECT caregiver_id, day, start_time, end_time FROM caregiver_availability"
        " WHERE caregiver_id = ANY(%s)",
        (_array(caregiver_ids),),
    )
    return {(row[0], row[1], row[2], row[3]) for row in rows}


def replace_availability(
    cur: Cursor,
    owners: Sequence[int],
    slots: Sequence[tuple[int, str, time, time]],
    fresh: Collection[int] = frozenset(),
) -> None:
    """Make each owner's weekly slots exactly `slots` (caregiver_id, day, start, end); the slots
    of `fresh` caregivers are plain inserts (see `insert_fresh`)."""
    columns = "caregiver_id, day, start_time, end_time"
    slots = insert_fresh(cur, "caregiver_availability", columns.split(", "), slots, fresh)
    if not slots and not owners:
        return
    staged = stage(cur, "caregiver_availability", columns.split(", "), slots)
    if owners:
        cur.execute(
            "DELETE FROM caregiver_availability a"  # noqa: S608 (constants)
            " WHERE a.caregiver_id = ANY(%s) AND NOT EXISTS (SELECT FROM"
            f" {staged} s WHERE s.caregiver_id = a.caregiver_id AND s.day = a.day"
            " AND s.start_time = a.start_time AND s.end_time = a.end_time)",
            (_array(owners),),
        )
    cur.execute(
        f"INSERT INTO caregiver_availability ({columns})"  # noqa: S608 (constants)
        f" SELECT {columns} FROM {staged} ON CONFLICT DO NOTHING"
    )


def existing_personality(cur: Cursor, table: str, owner_ids: Iterable[int]) -> set[int]:
    column = PERSONALITY_TABLES[table]
    cur.execute(
        f"SELECT {column} AS owner FROM {table} WHERE {column} = ANY(%s)",  # noqa: S608
        (_array(owner_ids),),
    )
    return {row["owner"] for row in cur.fetchall()}


def upsert_personality(
    cur: Cursor,
    table: str,
    rows: Sequence[tuple[int, int, int, int, int]],
    fresh: Collection[int] = frozenset(),
) -> set[int]:
    """(owner id, empathy, activity, patience, independence) rows, source 'import'; the owner ids
    written (but for the `fresh` owners, plain inserts: see `insert_fresh`)."""
    values = ("empathy", "activity", "patience", "independence", "source")
    key = PERSONALITY_TABLES[table]
    others = insert_fresh(cur, table, (key, *values), [(*row, "import") for row in rows], fresh)
    written = upsert_if_distinct(cur, table, (key,), values, others)
    return {key[0] for key in written}


def guardian_users(cur: Cursor, guardian_ids: Iterable[int]) -> dict[int, int]:
    """guardian_id -> user_id."""
    cur.execute(
        "SELECT guardian_id, user_id FROM guardians WHERE guardian_id = ANY(%s)",
        (_array(guardian_ids),),
    )
    return {row["guardian_id"]: row["user_id"] for row in cur.fetchall()}


def ensure_guardians(cur: Cursor, rows: Sequence[tuple[int, str]]) -> dict[int, int]:
    """(user_id, address): a guardian profile for each user that has none (existing ones are
    left alone); returns user_id -> guardian_id for all of them."""
    _values(
        cur,
        "INSERT INTO guardians (user_id, address) VALUES %s ON CONFLICT (user_id) DO NOTHING",
        rows,
    )
    cur.execute(
        "SELECT user_id, guardian_id FROM guardians WHERE user_id = ANY(%s)",
        (_array(row[0] for row in rows),),
    )
    return {row["user_id"]: row["guardian_id"] for row in cur.fetchall()}


# -- patients --------------------------------------------------------------------------------

_PATIENT_COLUMNS = (
    "patient_id",
    "guardian_id",
    "name",
    "birth_date",
    "gender",
    "height_cm",
    "weight_kg",
    "care_level",
    "care_address",
    "region_code",
)


def insert_patients(cur: Cursor, rows: Sequence[PatientValues]) -> None:
    """Rows in _PATIENT_COLUMNS order, ids from allocate_ids."""
    columns = ", ".join(_PATIENT_COLUMNS)
    _values(cur, f"INSERT INTO patients ({columns}) VALUES %s", rows)  # noqa: S608


def update_patients(cur: Cursor, rows: Sequence[PatientValues]) -> set[int]:
    """Rows in _PATIENT_COLUMNS order; only what differs is written (mobility is not touched).
    Returns the patient_ids changed."""
    fields = _PATIENT_COLUMNS[1:]
    written = _values(
        cur,
        "UPDATE patients p SET "  # noqa: S608 (constants)
        + ", ".join(f"{name} = v.{name}" for name in fields)
        + f" FROM (VALUES %s) AS v({', '.join(_PATIENT_COLUMNS)})"
        " WHERE p.patient_id = v.patient_id AND ("
        + ", ".join(f"p.{name}" for name in fields)
        + ") IS DISTINCT FROM ("
        + ", ".join(f"v.{name}" for name in fields)
        + ") RETURNING p.patient_id",
        rows,
        template="(%s::bigint, %s::bigint, %s::text, %s::date, %s::text, %s::numeric,"
        " %s::numeric, %s::text, %s::text, %s::text)",
    )
    return {row["patient_id"] for row in written}


def patient_guardians(cur: Cursor, patient_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """patient_id -> (guardian_id, the guardian's user_id)."""
    cur.execute(
        "SELECT p.patient_id, p.guardian_id, g.user_id FROM patients p"
        " JOIN guardians g ON g.guardian_id = p.guardian_id WHERE p.patient_id = ANY(%s)",
        (_array(patient_ids),),
    )
    return {row["patient_id"]: (row["guardian_id"], row["user_id"]) for row in cur.fetchall()}


def existing_conditions(cur: Cursor, patient_ids: Iterable[int]) -> set[tuple[int, str]]:
    cur.execute(
        "SELECT patient_id, code FROM patient_conditions WHERE patient_id = ANY(%s)",
        (_array(patient_ids),),
    )
    return {(row["patient_id"], row["code"]) for row in cur.fetchall()}


def replace_conditions(
    cur: Cursor, owners: Sequence[int], rows: Sequence[tuple[int, str, str | None]]
) -> set[tuple[int, str]]:
    """Make each patient's conditions exactly `rows` (patient_id, code, note); the (patient_id,
    code) pairs inserted or whose note changed."""
    params = {
        "owners": _array(owners),
        "ids": _array(row[0] for row in rows),
        "codes": _array(row[1] for row in rows),
        "notes": _array(row[2] for row in rows),
    }
    unnest = "unnest(%(ids)s::bigint[], %(codes)s::text[], %(notes)s::text[])"
    cur.execute(
        "DELETE FROM patient_conditions c"  # noqa: S608 (constant)
        " WHERE c.patient_id = ANY(%(owners)s) AND (c.patient_id, c.code) NOT IN"
        f" (SELECT owner, code FROM {unnest} AS n(owner, code, note))",
        params,
    )
    cur.execute(
        sql.SQL(
            "INSERT INTO patient_conditions (patient_id, code, note) SELECT * FROM {} {}"
            " RETURNING patient_id, code"
        ).format(
            sql.SQL(unnest),
            _update_if_distinct("patient_conditions", ("patient_id", "code"), ("note",)),
        ),
        params,
    )
    return {(row["patient_id"], row["code"]) for row in cur.fetchall()}


def existing_diets(cur: Cursor, patient_ids: Iterable[int]) -> set[int]:
    cur.execute(
        "SELECT patient_id FROM patient_diets WHERE patient_id = ANY(%s)", (_array(patient_ids),)
    )
    return {row["patient_id"] for row in cur.fetchall()}


def upsert_diets(cur: Cursor, rows: Sequence[tuple[int, str, list[str]]]) -> set[int]:
    """(patient_id, diet_type, allergens) rows; the patient_ids written."""
    written = upsert_if_distinct(
        cur,
        "patient_diets",
        ("patient_id",),
        ("diet_type", "allergens"),
        rows,
    )
    return {key[0] for key in written}


# -- matching --------------------------------------------------------------------------------


def request_patients(cur: Cursor, request_ids: Iterable[int]) -> dict[int, int]:
    """request_id -> patient_id."""
    cur.execute(
        "SELECT request_id, patient_id FROM matching_requests WHERE request_id = ANY(%s)",
        (_array(request_ids),),
    )
    return {row["request_id"]: row["patient_id"] for row in cur.fetchall()}


def results_of_requests(cur: Cursor, request_ids: Iterable[int]) -> list[MatchingResultRow]:
    """matching_id, request_id, patient_id, caregiver_id, status of every result of the requests."""
    cur.execute(
        "SELECT matching_id, request_id, patient_id, caregiver_id, status FROM matching_results"
        " WHERE request_id = ANY(%s)",
        (_array(request_ids),),
    )
    return cast(list[MatchingResultRow], cur.fetchall())


def matchings(cur: Cursor, matching_ids: Iterable[int]) -> dict[int, MatchingResultRow]:
    """matching_id -> {request_id, patient_id, caregiver_id, status}."""
    cur.execute(
        "SELECT matching_id, request_id, patient_id, caregiver_id, status FROM matching_results"
        " WHERE matching_id = ANY(%s)",
        (_array(matching_ids),),
    )
    rows = cast(list[MatchingResultRow], cur.fetchall())
    return {row["matching_id"]: row for row in rows}


def insert_requests(cur: Cursor, rows: Sequence[RequestValues]) -> None:
    """(request_id, patient_id, requested_by, days, time_slots, start_date, created_at) rows of
    synthetic requests: care_type caregiver, model_version 'pilot-import' marks them."""
    _values(
        cur,
        "INSERT INTO matching_requests (request_id, patient_id, requested_by, care_type, days,"
        " time_slots, start_date, created_at, model_version) VALUES %s",
        [(*row[:4], Json(row[4]), *row[5:]) for row in rows],
        template="(%s, %s, %s, 'caregiver', %s::text[], %s, %s, coalesce(%s, now()),"
        " 'pilot-import')",
    )


_RESULT_COLUMNS = (
    "matching_id",
    "request_id",
    "patient_id",
    "caregiver_id",
    "score",
    "grade",
    "status",
    "personality_score",
    "specialty_score",
    "region_score",
    "ai_comment",
    "contract_start_date",
    "contract_end_date",
    "created_at",
)
_RESULT_TEMPLATE = (
    "(%s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::numeric, %s::text, %s::text,"
    " %s::numeric, %s::numeric, %s::numeric, %s::text, %s::date, %s::date, %s::timestamptz)"
)


def insert_results(cur: Cursor, rows: Sequence[ResultValues]) -> None:
    """Rows in _RESULT_COLUMNS order; a missing created_at is now()."""
    _values(
        cur,
        f"INSERT INTO matching_results ({', '.join(_RESULT_COLUMNS)}, status_changed_at)"  # noqa: S608
        f" SELECT {', '.join(f'v.{c}' for c in _RESULT_COLUMNS[:-1])},"
        " coalesce(v.created_at, now()), coalesce(v.created_at, now())"
        f" FROM (VALUES %s) AS v({', '.join(_RESULT_COLUMNS)})",
        rows,
        template=_RESULT_TEMPLATE,
    )


def update_results(cur: Cursor, rows: Sequence[ResultValues]) -> set[int]:
    """Rows in _RESULT_COLUMNS order; status_changed_at moves only when the status does. Returns
    the matching_ids changed."""
    fields = _RESULT_COLUMNS[1:-1]
    written = _values(
        cur,
        "UPDATE matching_results m SET "  # noqa: S608 (constants)
        + ", ".join(f"{name} = v.{name}" for name in fields)
        + ", created_at = coalesce(v.created_at, m.created_at),"
        " status_changed_at = CASE WHEN m.status = v.status THEN m.status_changed_at"
        " ELSE now() END"
        f" FROM (VALUES %s) AS v({', '.join(_RESULT_COLUMNS)})"
        " WHERE m.matching_id = v.matching_id AND ("
        + ", ".join(f"m.{name}" for name in fields)
        + ", m.created_at) IS DISTINCT FROM ("
        + ", ".join(f"v.{name}" for name in fields)
        + ", coalesce(v.created_at, m.created_at)) RETURNING m.matching_id",
        rows,
        template=_RESULT_TEMPLATE,
    )
    return {row["matching_id"] for row in written}


# -- reviews ---------------------------------------------------------------------------------


def reviews_of_matchings(cur: Cursor, matching_ids: Iterable[int]) -> dict[tuple[int, int], int]:
    """(matching_id, reviewer_id) -> review_id for the matchings' reviews."""
    cur.execute(
        "SELECT review_id, matching_id, reviewer_id FROM reviews WHERE matching_id = ANY(%s)",
        (_array(matching_ids),),
    )
    return {(row["matching_id"], row["reviewer_id"]): row["review_id"] for row in cur.fetchall()}


_REVIEW_COLUMNS = (
    "review_id",
    "matching_id",
    "caregiver_id",
    "reviewer_id",
    "reviewer_role",
    "rating",
    "comment",
    "created_at",
)
_REVIEW_TEMPLATE = (
    "(%s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::text, %s::smallint, %s::text,"
    " %s::timestamptz)"
)


def insert_reviews(cur: Cursor, rows: Sequence[ReviewValues]) -> None:
    """Rows in _REVIEW_COLUMNS order; a missing created_at is now()."""
    _values(
        cur,
        f"INSERT INTO reviews ({', '.join(_REVIEW_COLUMNS)})"  # noqa: S608
        f" SELECT {', '.join(f'v.{c}' for c in _REVIEW_COLUMNS[:-1])},"
        " coalesce(v.created_at, now())"
        f" FROM (VALUES %s) AS v({', '.join(_REVIEW_COLUMNS)})",
        rows,
        template=_REVIEW_TEMPLATE,
    )


def update_reviews(cur: Cursor, rows: Sequence[ReviewValues]) -> set[int]:
    """Rows in _REVIEW_COLUMNS order; only what differs is written. Returns the review_ids
    changed."""
    fields = _REVIEW_COLUMNS[1:-1]
    written = _values(
        cur,
        "UPDATE reviews r SET "  # noqa: S608 (constants)
        + ", ".join(f"{name} = v.{name}" for name in fields)
        + ", created_at = coalesce(v.created_at, r.created_at)"
        f" FROM (VALUES %s) AS v({', '.join(_REVIEW_COLUMNS)})"
        " WHERE r.review_id = v.review_id AND ("
        + ", ".join(f"r.{name}" for name in fields)
        + ", r.created_at) IS DISTINCT FROM ("
        + ", ".join(f"v.{name}" for name in fields)
        + ", coalesce(v.created_at, r.created_at)) RETURNING r.review_id",
        rows,
        template=_REVIEW_TEMPLATE,
    )
    return {row["review_id"] for row in written}
