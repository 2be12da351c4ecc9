"""National scale: the matching hard filters read the patient's region, not the country (issue 16).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Two derived tables, kept by triggers in the same transaction as the rows they come from:

- `caregiver_search`: one row per caregiver with what the hard filters test and what the model
  scores, in columns a scan tests without a join: the account's activity and gender, the
  province of the service region, certification and specialty codes (sorted arrays),
  experience, hourly rate, rating, reviews, personality axes, completed matchings, and per day
  the first two slots that no other slot of the day covers (`mon_start`, `mon_end`,
  `mon_start2`, `mon_end2`, ...). A requested time is covered by one slot iff one of those
  covers it; a day with a third such slot has its bit in `split_days`, and the filter asks the
  slots themselves (`caregiver_slot_covers`, plpgsql so it runs only for the rows that reach
  it). The partial index on province of active caregivers makes the region the first read; a
  bulk refresh writes rows grouped by province, so a region reads its own pages.
- `caregiver_search_counts`: per (province, certification set, active) the caregivers, their
  reviews and the sum of rating x reviews. `candidates_considered`, the certification and
  region filters' `excluded` counts and the platform's mean rating are sums over a few hundred
  rows instead of a count of the country; only the region's certified active caregivers are
  classified row by row.

Statement-level triggers on `users` (activity, deletion, gender), `caregivers`, certifications,
specialties, availability, personality and `matching_results` (completed ones) queue the
caregivers a statement touched in `ops_caregiver_search_pending`; a deferred constraint trigger
recomputes them with one `caregiver_search_refresh(ids)` at commit (a bulk import pays one
set-based refresh, not one per statement), and `caregiver_search_flush()` does it earlier for a
transaction that reads its own changes (the filters call it first). The refresh rewrites only
rows that differ; the counters follow `caregiver_search` by its own triggers (deltas of the
transition tables). The queue is `ops_`: empty outside a transaction, never backed up.

Grants in 0006's style: the app role reads the two tables but cannot write them or the queue;
the trigger functions are SECURITY DEFINER (owner, search_path pinned). Both tables are data
(backed up, change-tracked): a restore loads them from the same snapshot as their sources, with
triggers disabled. A load that bypasses triggers otherwise must end with
`SELECT caregiver_search_refresh(ARRAY(SELECT caregiver_id FROM caregivers))`.

`matching_results_active_caregiver_idx` serves the `booked` filter (active matchings only).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "neulbomcare_app"
# Frozen here (a migration imports no app code); bit i of split_days is DAYS[i].
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
AXES = ("empathy", "activity", "patience", "independence")

#: Per day, the first two slots no other slot covers, by start (`mon_start`, `mon_end`,
#: `mon_start2`, `mon_end2`, ...): a time is covered by a slot iff one of them covers it.
_DAY_FIELDS = tuple(f"{d}_{edge}{n}" for d in DAYS for n in ("", "2") for edge in ("start", "end"))
_DAY_COLUMNS = ",\n        ".join(f"{c} time" for c in _DAY_FIELDS)
_DAY_SELECT = ",\n               ".join(
    f"min(start_time) FILTER (WHERE day = '{d}' AND n = {1 if not k else 2}) AS {d}_start{k},"
    f" min(end_time) FILTER (WHERE day = '{d}' AND n = {1 if not k else 2}) AS {d}_end{k}"
    for d in DAYS
    for k in ("", "2")
)
_DAYS_ARRAY = "ARRAY[" + ", ".join(f"'{d}'" for d in DAYS) + "]"
_FIELDS = (
    "is_active", "province", "certifications", "gender", "experience_years", "hourly_rate",
    "specialties", *_DAY_FIELDS, "split_days",
    "service_region", "avg_rating", "total_reviews", *AXES, "completed_matchings",
)  # fmt: skip
_COLUMNS = "caregiver_id, " + ", ".join(_FIELDS)
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in _FIELDS)
_CHANGED = (
    "("
    + ", ".join(f"caregiver_search.{c}" for c in _FIELDS)
    + ") IS DISTINCT FROM ("
    + ", ".join(f"EXCLUDED.{c}" for c in _FIELDS)
    + ")"
)


def _count_delta(sign: int, rows: str) -> str:
    """`sign` times each row of the transition table `rows`, per counter key."""
    return (
        f"SELECT province, certifications, is_active, {sign}, {sign} * total_reviews,"  # noqa: S608
        f" {sign} * avg_rating * total_reviews FROM {rows}"
    )


def _add_to_counts(changes: str) -> str:
    """Add the summed deltas of `changes` to the counters; keys whose sums are zero are left."""
    return f"""
            INSERT INTO caregiver_search_counts AS t
                (province, certifications, is_active, caregivers, reviews, rating_sum)
            SELECT province, certifications, is_active, sum(n), sum(r), sum(s)
            FROM ({changes}) AS d(province, certifications, is_active, n, r, s)
            GROUP BY province, certifications, is_active
            HAVING sum(n) <> 0 OR sum(r) <> 0 OR sum(s) <> 0
            ORDER BY province, certifications, is_active
            ON CONFLICT (province, certifications, is_active) DO UPDATE SET
                caregivers = t.caregivers + EXCLUDED.caregivers,
                reviews = t.reviews + EXCLUDED.reviews,
                rating_sum = t.rating_sum + EXCLUDED.rating_sum;"""  # noqa: S608


def _follow(name: str, insert_ids: str, update_ids: str, delete_ids: str) -> str:
    """A trigger function that queues the caregivers each event's query names."""
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO ops_caregiver_search_pending
            SELECT DISTINCT id FROM ({insert_ids}) AS q(id) WHERE id IS NOT NULL
            ON CONFLICT DO NOTHING;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO ops_caregiver_search_pending
            SELECT DISTINCT id FROM ({update_ids}) AS q(id) WHERE id IS NOT NULL
            ON CONFLICT DO NOTHING;
        ELSE
            INSERT INTO ops_caregiver_search_pending
            SELECT DISTINCT id FROM ({delete_ids}) AS q(id) WHERE id IS NOT NULL
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END;
    $$
    """  # noqa: S608  (constant SQL)


UPGRADE_SQL = (
    f"""
    CREATE TABLE caregiver_search (
        caregiver_id        bigint PRIMARY KEY REFERENCES caregivers ON DELETE CASCADE,
        is_active           boolean NOT NULL,
        province            text NOT NULL,
        certifications      text[] NOT NULL DEFAULT '{{}}',
        gender              text,
        experience_years    smallint NOT NULL,
        hourly_rate         integer NOT NULL,
        specialties         text[] NOT NULL DEFAULT '{{}}',
        {_DAY_COLUMNS},
        split_days          smallint NOT NULL DEFAULT 0,
        service_region      text NOT NULL,
        avg_rating          numeric(3, 2) NOT NULL,
        total_reviews       integer NOT NULL,
        {", ".join(f"{axis} smallint" for axis in AXES)},
        completed_matchings integer NOT NULL DEFAULT 0
    ) WITH (fillfactor = 90)
    """,
    "CREATE INDEX caregiver_search_region_idx ON caregiver_search (province) WHERE is_active",
    """
    CREATE TABLE caregiver_search_counts (
        province       text NOT NULL,
        certifications text[] NOT NULL,
        is_active      boolean NOT NULL,
        caregivers     integer NOT NULL,
        reviews        bigint NOT NULL,
        rating_sum     numeric NOT NULL,
        PRIMARY KEY (province, certifications, is_active)
    )
    """,
    # Caregivers changed by this transaction whose search row is not recomputed yet (empty
    # outside a transaction: the commit, or a reader's flush, empties it).
    """
    CREATE UNLOGGED TABLE ops_caregiver_search_pending (caregiver_id bigint PRIMARY KEY)
    """,
    """
    CREATE INDEX matching_results_active_caregiver_idx
        ON matching_results (caregiver_id) WHERE status = 'active'
    """,
    # The one writer of caregiver_search: recompute the given caregivers from their sources.
    f"""
    CREATE FUNCTION caregiver_search_refresh(ids bigint[]) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        WITH ids AS (SELECT DISTINCT unnest(ids) AS caregiver_id),
        slots AS (
            SELECT a.caregiver_id, a.day, a.start_time, a.end_time,
                   max(a.end_time) OVER (PARTITION BY a.caregiver_id, a.day ORDER BY a.start_time
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                       AS earlier_end
            FROM caregiver_availability a JOIN ids USING (caregiver_id)
        ),
        days AS (
            -- The slots no other slot covers (a slot starting earlier ends before this ends),
            -- numbered by start.
            SELECT caregiver_id, day, start_time, end_time,
                   row_number() OVER (PARTITION BY caregiver_id, day ORDER BY start_time) AS n
            FROM slots WHERE earlier_end IS NULL OR end_time > earlier_end
        ),
        week AS (
            SELECT caregiver_id,
               {_DAY_SELECT},
               coalesce(sum(DISTINCT 1 << (array_position({_DAYS_ARRAY}, day) - 1))
                        FILTER (WHERE n > 2), 0)::smallint AS split_days
            FROM days GROUP BY caregiver_id
        ),
        certs AS (
            SELECT caregiver_id, array_agg(code ORDER BY code) AS codes
            FROM caregiver_certifications JOIN ids USING (caregiver_id) GROUP BY caregiver_id
        ),
        specs AS (
            SELECT caregiver_id, array_agg(code ORDER BY code) AS codes
            FROM caregiver_specialties JOIN ids USING (caregiver_id) GROUP BY caregiver_id
        ),
        completed AS (
            SELECT caregiver_id, count(*) AS n
            FROM matching_results JOIN ids USING (caregiver_id)
            WHERE status = 'completed' GROUP BY caregiver_id
        )
        INSERT INTO caregiver_search ({_COLUMNS})
        SELECT c.caregiver_id, u.is_active AND u.deleted_at IS NULL,
               split_part(c.service_region, '_', 1), coalesce(ct.codes, '{{}}'), u.gender,
               c.experience_years, c.hourly_rate, coalesce(sp.codes, '{{}}'),
               {", ".join(f"w.{c}" for c in _DAY_FIELDS)},
               coalesce(w.split_days, 0), c.service_region, c.avg_rating, c.total_reviews,
               {", ".join(f"p.{axis}" for axis in AXES)}, coalesce(done.n, 0)
        FROM ids
        JOIN caregivers c USING (caregiver_id)
        JOIN users u ON u.user_id = c.user_id
        LEFT JOIN week w USING (caregiver_id)
        LEFT JOIN certs ct USING (caregiver_id)
        LEFT JOIN specs sp USING (caregiver_id)
        LEFT JOIN caregiver_personality p USING (caregiver_id)
        LEFT JOIN completed done USING (caregiver_id)
        -- A bulk load writes each province's rows together: a region is read from its own
        -- pages (fillfactor leaves room for updates to stay on theirs).
        ORDER BY split_part(c.service_region, '_', 1), c.caregiver_id
        ON CONFLICT (caregiver_id) DO UPDATE SET {_UPDATES}
        WHERE {_CHANGED}
    $$
    """,  # noqa: S608  (constant SQL)
    # Recompute the caregivers this transaction queued (nothing to do, and no write, when none).
    """
    CREATE FUNCTION caregiver_search_flush() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
        ids bigint[];
    BEGIN
        IF EXISTS (SELECT 1 FROM ops_caregiver_search_pending) THEN
            WITH done AS (DELETE FROM ops_caregiver_search_pending RETURNING caregiver_id)
            SELECT array_agg(caregiver_id) INTO ids FROM done;
            PERFORM caregiver_search_refresh(ids);
        END IF;
    END;
    $$
    """,
    # At commit: the first queued row's deferred trigger flushes them all; the others find
    # their row gone (one index probe each).
    """
    CREATE FUNCTION caregiver_search_flush_at_commit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM ops_caregiver_search_pending
                   WHERE caregiver_id = NEW.caregiver_id) THEN
            PERFORM caregiver_search_flush();
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ops_caregiver_search_pending_flush
        AFTER INSERT ON ops_caregiver_search_pending
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION caregiver_search_flush_at_commit()
    """,
    # A day whose slots no single slot spans: does one of them cover the asked time? (plpgsql,
    # so the planner calls it only for the rows that reach it instead of hashing every slot).
    """
    CREATE FUNCTION caregiver_slot_covers(caregiver bigint, weekday text, t_from time, t_to time)
    RETURNS boolean
    LANGUAGE plpgsql STABLE AS $$
    BEGIN
        RETURN EXISTS (
            SELECT 1 FROM caregiver_availability a
            WHERE a.caregiver_id = caregiver AND a.day = weekday
              AND a.start_time <= t_from AND a.end_time >= t_to);
    END;
    $$
    """,
    # Tables keyed by caregiver_id: every caregiver the statement touched.
    _follow(
        "caregiver_search_follow",
        "SELECT caregiver_id FROM search_new",
        "SELECT caregiver_id FROM search_new UNION SELECT caregiver_id FROM search_old",
        "SELECT caregiver_id FROM search_old",
    ),
    # users: caregivers whose activity, deletion or gender changed (not every sign-in).
    _follow(
        "caregiver_search_follow_users",
        "SELECT NULL::bigint WHERE false",
        "SELECT c.caregiver_id FROM search_new n JOIN search_old o USING (user_id)"
        " JOIN caregivers c ON c.user_id = n.user_id"
        " WHERE (n.is_active, n.deleted_at, n.gender)"
        " IS DISTINCT FROM (o.is_active, o.deleted_at, o.gender)",
        "SELECT NULL::bigint WHERE false",
    ),
    # caregivers: new ones, and changes of what the search row copies (a deleted caregiver's
    # row goes by ON DELETE CASCADE).
    _follow(
        "caregiver_search_follow_caregivers",
        "SELECT caregiver_id FROM search_new",
        "SELECT n.caregiver_id FROM search_new n JOIN search_old o USING (caregiver_id)"
        " WHERE (n.user_id, n.service_region, n.experience_years, n.hourly_rate, n.avg_rating,"
        " n.total_reviews) IS DISTINCT FROM (o.user_id, o.service_region, o.experience_years,"
        " o.hourly_rate, o.avg_rating, o.total_reviews)",
        "SELECT NULL::bigint WHERE false",
    ),
    # matching_results: only results that are or were completed change a caregiver's count.
    _follow(
        "caregiver_search_follow_results",
        "SELECT caregiver_id FROM search_new WHERE status = 'completed'",
        "SELECT n.caregiver_id FROM search_new n JOIN search_old o USING (matching_id)"
        " WHERE (n.status = 'completed' OR o.status = 'completed')"
        " AND (n.status, n.caregiver_id) IS DISTINCT FROM (o.status, o.caregiver_id)"
        " UNION SELECT o.caregiver_id FROM search_new n JOIN search_old o USING (matching_id)"
        " WHERE o.status = 'completed' AND n.caregiver_id <> o.caregiver_id",
        "SELECT caregiver_id FROM search_old WHERE status = 'completed'",
    ),
    # The counters follow caregiver_search: + each new row, - each old row, per key.
    f"""
    CREATE FUNCTION caregiver_search_count() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_add_to_counts(_count_delta(1, "search_new"))}
        ELSIF TG_OP = 'UPDATE' THEN
            {
        _add_to_counts(
            _count_delta(1, "search_new") + " UNION ALL " + _count_delta(-1, "search_old")
        )
    }
        ELSE
            {_add_to_counts(_count_delta(-1, "search_old"))}
        END IF;
        RETURN NULL;
    END;
    $$
    """,
)


def _triggers(table: str, function: str, events: Sequence[str]) -> tuple[str, ...]:
    """One statement-level trigger per event (transition tables allow one event each)."""
    referencing = {
        "INSERT": "NEW TABLE AS search_new",
        "UPDATE": "OLD TABLE AS search_old NEW TABLE AS search_new",
        "DELETE": "OLD TABLE AS search_old",
    }
    return tuple(
        f"CREATE TRIGGER {table}_search_{event.lower()} AFTER {event} ON {table}"
        f" REFERENCING {referencing[event]} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for event in events
    )


_ALL = ("INSERT", "UPDATE", "DELETE")
_CAREGIVER_TABLES = (
    "caregiver_certifications",
    "caregiver_specialties",
    "caregiver_availability",
    "caregiver_personality",
)
#: (table, events) of every trigger this migration creates.
TRIGGERS = (
    ("caregivers", "caregiver_search_follow_caregivers", ("INSERT", "UPDATE")),
    *((table, "caregiver_search_follow", _ALL) for table in _CAREGIVER_TABLES),
    ("users", "caregiver_search_follow_users", ("UPDATE",)),
    ("matching_results", "caregiver_search_follow_results", _ALL),
    ("caregiver_search", "caregiver_search_count", _ALL),
)
FUNCTIONS = (
    "caregiver_search_count()",
    "caregiver_search_flush_at_commit()",
    "caregiver_search_flush()",
    "caregiver_search_follow_results()",
    "caregiver_search_follow_caregivers()",
    "caregiver_search_follow_users()",
    "caregiver_search_follow()",
    "caregiver_slot_covers(bigint, text, time, time)",
    "caregiver_search_refresh(bigint[])",
)

GRANTS_SQL = (
    f"REVOKE ALL ON caregiver_search, caregiver_search_counts FROM {APP_ROLE}",
    f"GRANT SELECT ON caregiver_search, caregiver_search_counts TO {APP_ROLE}",
    f"REVOKE ALL ON ops_caregiver_search_pending FROM {APP_ROLE}",
    *(f"REVOKE ALL ON FUNCTION {f} FROM PUBLIC" for f in FUNCTIONS),
    *(f"GRANT EXECUTE ON FUNCTION {f} TO {APP_ROLE}" for f in FUNCTIONS),
)

TRACKED = ("caregiver_search", "caregiver_search_counts")


def upgrade() -> None:
    """Tables, functions and triggers; backfill from the existing caregivers; grants; tracking."""
    for statement in UPGRADE_SQL:
        op.execute(statement)
    for table, function, events in TRIGGERS:
        for statement in _triggers(table, function, events):
            op.execute(statement)
    op.execute("SELECT caregiver_search_refresh(ARRAY(SELECT caregiver_id FROM caregivers))")
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
        + "; ".join(GRANTS_SQL)
        + "; END IF; END $$"
    )
    for table in TRACKED:
        op.execute(f"SELECT ops_attach_change_tracking('{table}')")


def downgrade() -> None:
    """Drop what upgrade() created; the source tables keep their rows."""
    for table in TRACKED:
        op.execute(f"SELECT ops_detach_change_tracking('{table}')")
    for table, _, events in TRIGGERS:
        for event in events:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{event.lower()} ON {table}")
    op.execute("DROP TABLE IF EXISTS ops_caregiver_search_pending")
    op.execute("DROP TABLE IF EXISTS caregiver_search_counts")
    op.execute("DROP TABLE IF EXISTS caregiver_search")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP INDEX IF EXISTS matching_results_active_caregiver_idx")
