"""Does every list and filter we serve use an index? EXPLAIN on a database holding the bulk import.

Builds a throwaway database from the pilot CSV generator (`import_csv.py`, default 5,000
caregivers and 3,000 patients), adds a month of schedules and care logs per patient, matchings,
reviews and audit events, runs ANALYZE, then calls every list and read service the API serves
(as the guardian, the caregiver or the operator who would call it) with a cursor that records
each SELECT. Every recorded statement is EXPLAINed (the plan PostgreSQL would use); a sequential
scan of a table holding more than `--min-rows` rows is reported with the statement.

The matching hard filters read only the patient's region of `caregiver_search` (migration 0009)
and the counters; for a patient in the capital area that is about half of the table, where a
sequential read of it can be the better plan, so that one is listed separately. Any read of
the other caregiver tables by a matching request is a problem like any other.

Usage: python benchmarks/index_usage.py [--caregivers 5000] [--patients 3000] [--min-rows 5000]
Exit status 1 when an unexpected sequential scan of a large table is found.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

#: What a matching request may read sequentially: the region's part of caregiver_search when
#: the region is most of the table (the capital area is about half of the country).
EXPECTED_FULL_READS = {"caregiver_search"}


def one(cur: Any) -> dict[str, Any]:
    """The row a statement that always returns one row returned."""
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def add_care_history(url: str, rng: random.Random, days: int) -> None:
    """Schedules with care logs for every patient over `days` days, plus audit events."""
    import psycopg2
    from psycopg2.extras import execute_values

    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT patient_id FROM patients")
        patients = [row[0] for row in cur.fetchall()]
        start = date.today() - timedelta(days=days // 2)
        schedules = execute_values(
            cur,
            "INSERT INTO schedules (patient_id, schedule_date, status) VALUES %s"
            " RETURNING schedule_id, patient_id",
            [(p, start + timedelta(days=d), "scheduled") for p in patients for d in range(days)],
            page_size=5000,
            fetch=True,
        )
        categories = ["medication", "meal", "exercise", "vital_check"]
        execute_values(
            cur,
            "INSERT INTO care_logs (schedule_id, patient_id, category, task_name, is_completed,"
            " completed_at, vitals) VALUES %s",
            [
                (
                    sid,
                    pid,
                    c,
                    f"{c} task",
                    done,
                    "now()" if done else None,
                    json.dumps({"systolic": rng.randint(100, 160)}) if c == "vital_check" else None,
                )
                for sid, pid in schedules
                for c in categories
                for done in [rng.random() < 0.8]
            ],
            page_size=10000,
        )
        execute_values(
            cur,
            "INSERT INTO audit_events (actor_user_id, actor_role, action, patient_id,"
            " resource_type, resource_id) VALUES %s",
            [(None, "guardian", "view", p, "patient", str(p)) for p in patients for _ in range(20)],
            page_size=10000,
        )
        cur.execute("ANALYZE")
    conn.close()


def record_statements(statements: list[tuple[str, str]]):
    """Make every RealDictCursor record (label, SQL with its parameters bound)."""
    import psycopg2.extras

    original = psycopg2.extras.RealDictCursor.execute
    current: dict[str, str | None] = {"label": None}  # None: set-up, not recorded

    def execute(self, query, vars=None):
        sql = self.mogrify(query, vars).decode()
        if current["label"] and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((current["label"], sql))
        return original(self, query, vars)

    setattr(psycopg2.extras.RealDictCursor, "execute", execute)  # noqa: B010 (a patch, on purpose)
    return current


def exercise(current: dict, url: str) -> None:
    """Call every list and read service as the user who would."""
    import psycopg2
    import psycopg2.extras

    from models.care import CareReportQuery, SchedulesQuery
    from models.common import PageQuery
    from models.matching import MatchingRequestIn
    from models.vocabularies import Role
    from shared import audit
    from shared.auth.principal import Actor, Principal
    from shared.care import service as care
    from shared.dashboard.service import get_dashboard
    from shared.db import get_database
    from shared.matching import service as matching
    from shared.patients import service as patients
    from shared.reviews import service as reviews
    from shared.unit_of_work import UnitOfWork

    conn = psycopg2.connect(url)
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            "SELECT g.user_id, p.patient_id FROM patients p JOIN guardians g USING (guardian_id)"
            " ORDER BY p.patient_id LIMIT 1"
        )
        guardian_user, patient_id = one(cur).values()
        cur.execute(
            "SELECT c.user_id, c.caregiver_id FROM caregivers c"
            " JOIN matching_results m USING (caregiver_id) WHERE m.status = 'completed' LIMIT 1"
        )
        caregiver_user, caregiver_id = one(cur).values()
        cur.execute(
            "INSERT INTO users (email, name, role) VALUES ('ops@bench.invalid', '운영', 'admin')"
            " RETURNING user_id"
        )
        admin_user = one(cur)["user_id"]
    conn.close()

    def actor(user_id: int, role: Role) -> Actor:
        return Actor(Principal(user_id, role, "x@bench.invalid", "x"), "bench", None)

    guardian = actor(guardian_user, Role.GUARDIAN)
    caregiver = actor(caregiver_user, Role.CAREGIVER)
    admin = actor(admin_user, Role.ADMIN)
    page = PageQuery()
    today = date.today()

    def run(caller: Actor, service: Callable[..., object], *args: object, **kw: object) -> None:
        """One service call in its own unit of work, as the HTTP pipeline would make it."""
        with UnitOfWork(caller) as uow:
            service(uow, *args, **kw)

    calls: dict[str, Callable[[], None]] = {
        "patients list (guardian)": lambda: run(guardian, patients.list_patients, page),
        "patients list (admin)": lambda: run(admin, patients.list_patients, page),
        "patient read": lambda: run(guardian, patients.get_patient, patient_id),
        "medications list": lambda: run(guardian, patients.list_medications, patient_id, page),
        "schedules of a day (guardian)": lambda: run(guardian, care.schedules_on, today),
        "schedules of a day (caregiver)": lambda: run(caregiver, care.schedules_on, today),
        "patient schedules": lambda: run(
            guardian, care.patient_schedules, patient_id, SchedulesQuery.model_validate({})
        ),
        "care reports list": lambda: run(
            guardian, care.list_care_reports, patient_id, CareReportQuery.model_validate({})
        ),
        "matching results": lambda: run(
            guardian, matching.list_results, patient_id, status=None, limit=50, offset=0
        ),
        "offers": lambda: run(caregiver, matching.offers),
        "caregiver reviews": lambda: run(
            guardian, reviews.list_caregiver_reviews, caregiver_id, limit=50, offset=0
        ),
        "dashboard (guardian)": lambda: run(guardian, get_dashboard),
        "dashboard (caregiver)": lambda: run(caregiver, get_dashboard),
        "matching request": lambda: run(
            guardian,
            matching.create_request,
            patient_id,
            MatchingRequestIn.model_validate(
                {
                    "care_type": "caregiver",
                    "days": ["mon", "wed"],
                    "time_slots": [{"start": "10:00", "end": "12:00"}],
                    "start_date": (today + timedelta(days=7)).isoformat(),
                }
            ),
        ),
    }
    for label, call in calls.items():
        current["label"] = label
        call()
    current["label"] = "audit events (admin)"
    with get_database().transaction(readonly=True) as cur:
        audit.list_events(
            cur, patient_id=patient_id, actor_id=None, since=None, until=None, limit=50, offset=0
        )
        audit.list_events(
            cur, patient_id=None, actor_id=guardian_user, since=None, until=None, limit=50,
            offset=0,
        )  # fmt: skip


def seq_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan":
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += seq_scans(child)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caregivers", type=int, default=5000, help="caregivers (5000)")
    parser.add_argument("--patients", type=int, default=3000, help="patients (3000)")
    parser.add_argument("--days", type=int, default=30, help="days of schedules (30)")
    parser.add_argument("--min-rows", type=int, default=5000, help="a 'large' table (5000)")
    args = parser.parse_args()
    rng = random.Random(11)  # noqa: S311 (benchmark data, not secrets)

    os.environ["LOCAL_SETTINGS_PATH"] = os.devnull
    os.environ["APP_ENV"] = "development"
    from benchmarks import import_csv
    from devtools.database import (
        create_database,
        drop_database,
        migrate,
        resolve_server_url,
        with_database,
    )

    server = resolve_server_url()
    name = f"neulbom_bench_indexes_{os.getpid()}"
    create_database(server, name)
    try:
        url = with_database(server, name)
        migrate(url)
        os.environ["DATABASE_URL"] = url
        from shared.data_import.service import import_directory
        from shared.db import get_database

        with tempfile.TemporaryDirectory(prefix="pilot-csv-") as tmp:
            import_csv.generate(Path(tmp), args.caregivers, args.patients, 7)
            import_directory(get_database(), Path(tmp))
        print(f"imported {args.caregivers} caregivers and {args.patients} patients", flush=True)
        add_care_history(url, rng, args.days)

        statements: list[tuple[str, str]] = []
        current = record_statements(statements)
        exercise(current, url)
        return report(statements, args.min_rows)
    finally:
        from shared.db import reset_database

        reset_database()
        drop_database(server, name)


def report(statements: list[tuple[str, str]], min_rows: int) -> int:
    from shared.db import get_database

    problems: defaultdict[str, set[str]] = defaultdict(set)
    expected: defaultdict[str, set[str]] = defaultdict(set)
    with get_database().transaction(readonly=True) as cur:
        cur.execute("SELECT relname, n_live_tup FROM pg_stat_user_tables")
        sizes = {row["relname"]: row["n_live_tup"] for row in cur.fetchall()}
        for label, sql in statements:
            cur.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = one(cur)["QUERY PLAN"][0]["Plan"]
            for table in seq_scans(plan):
                if sizes.get(table, 0) < min_rows:
                    continue
                target = (
                    expected
                    if label == "matching request" and table in EXPECTED_FULL_READS
                    else problems
                )
                target[label].add(f"{table} ({sizes[table]} rows)")
    labels = sorted({label for label, _ in statements})
    print(f"\n{len(statements)} statements from {len(labels)} services EXPLAINed")
    print(
        "large tables: " + ", ".join(f"{t} {n}" for t, n in sorted(sizes.items()) if n >= min_rows)
    )
    for label in labels:
        verdict = (
            "seq scan of " + ", ".join(sorted(problems[label])) if problems[label] else "indexed"
        )
        note = (
            f" (expected full reads: {', '.join(sorted(expected[label]))})"
            if expected[label]
            else ""
        )
        print(f"  {label:32} {verdict}{note}")
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
