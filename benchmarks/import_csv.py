"""Time `import-csv` on a pilot-sized data set, then check the database it leaves behind.

Generates, into a temporary directory, every pilot file for N caregivers (default 1,000, each
with a week of availability and a personality) and M patients (default 500, with guardians,
personality, conditions, diet, matchings and reviews), in the pilot's format (Korean labels,
True/False, `|` lists). Then, in a throwaway database migrated to head on the development server
(devtools.database.resolve_server_url), it times:

1. the first import (everything is inserted),
2. the same files again (the idempotent re-run: 0 imported, 0 updated, every row "unchanged").

Every tenth request holds two active matchings and a selected one, as the pilot's exports do:
the import splits the second and third into requests of their own (the "split" column).

Each time is the `import_directory` call (reading the files included), not database creation.
Afterwards it checks the database is healthy: row counts equal what was generated, every source
id maps to one live row, no data row was changed by the re-run, the caregivers' ratings agree
with their reviews, one audit event per patient per run, the re-run reported every accepted row
unchanged and both runs the expected splits. Exits 1 if any check fails or a run
goes over --budget seconds (default 10, the target is "well under").

Usage: python benchmarks/import_csv.py [--caregivers 1000] [--patients 500] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg2.extensions import cursor as PgCursor

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = ["민준", "서연", "지훈", "하은", "영숙", "정희", "순자", "미경", "현우", "지영"]
REGIONS = [
    "SEOUL_GANGNAM", "SEOUL_MAPO", "SEOUL_NOWON", "GYEONGGI_GOYANG", "GYEONGGI_SUWON",
    "INCHEON_BUPYEONG", "BUSAN_HAEUNDAE", "DAEGU_SUSEONG", "GWANGJU_BUK", "JEJU_JEJU",
]  # fmt: skip
CERTIFICATIONS = ["요양보호사 1급", "요양보호사 2급", "간호조무사", "간호사", "사회복지사 2급"]
SPECIALTIES = [
    "치매",
    "뇌졸중",
    "당뇨",
    "고혈압",
    "관절염",
    "와상환자",
    "식사보조",
    "재활",
    "호스피스",
]
CONDITIONS = ["치매", "인지장애", "뇌졸중", "파킨슨", "당뇨", "고혈압", "관절염", "골다공증", "암"]
CARE_LEVELS = ["1등급", "2등급", "3등급", "4등급", "5등급", "인지지원등급", "등급외"]
DIETS = ["일반식", "저염식", "저당식", "저지방식", "고단백식", "연식", "유동식"]
ALLERGENS = ["대두", "계란", "메밀", "밀가루", "땅콩", "우유", "토마토", "새우", "게", "복숭아"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
SLOTS = [("08:00", "12:00"), ("09:00", "18:00"), ("13:00", "17:00"), ("18:00", "22:00")]
PERSONALITY = ["empathy_score", "activity_score", "patience_score", "independence_score"]
GRADES = [(90, "A+"), (80, "A"), (70, "B+"), (60, "B"), (0, "C")]


def _write(directory: Path, name: str, header: list[str], rows: list[list]) -> int:
    with (directory / name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def generate(  # noqa: PLR0915 (one generator writing nine related files reads best whole)
    directory: Path, caregivers: int, patients: int, seed: int
) -> dict[str, int]:
    """Write every pilot file; returns what the database should hold after the import."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    name = lambda: rng.choice(SURNAMES) + rng.choice(GIVEN)  # noqa: E731
    caregiver_ids = [f"C{i:05d}" for i in range(1, caregivers + 1)]
    profile, slots, personality = [], [], []
    expected = {"certifications": 0, "specialties": 0}
    for cid in caregiver_ids:
        certs = rng.sample(CERTIFICATIONS, rng.randint(1, 2))
        specs = rng.sample(SPECIALTIES, rng.randint(1, 4))
        expected["certifications"] += len(certs)
        expected["specialties"] += len(specs)
        profile.append([
            cid, name(), rng.choice(["Male", "Female"]),
            date(1955, 1, 1) + timedelta(days=rng.randrange(10_000)),
            rng.randint(0, 30), "|".join(certs), "|".join(specs), rng.choice(REGIONS),
            rng.choice(["True", "False"]), rng.randrange(11_000, 25_000, 500),
        ])  # fmt: skip
        for day in rng.sample(DAYS, rng.randint(4, 7)):
            start, end = rng.choice(SLOTS)
            slots.append([cid, day, start, end, "True" if rng.random() < 0.9 else "False"])
        personality.append([cid, *(rng.randint(0, 100) for _ in PERSONALITY)])
    expected["caregivers"] = _write(
        directory,
        "caregivers_profile.csv",
        ["caregiver_id", "name", "gender", "birth_date", "experience_years", "certifications",
         "specialties", "service_region", "has_vehicle", "hourly_rate"],
        profile,
    )  # fmt: skip
    _write(
        directory,
        "caregiver_availability.csv",
        ["caregiver_id", "day_of_week", "start_time", "end_time", "is_available"],
        slots,
    )
    expected["availability"] = sum(1 for row in slots if row[4] == "True")
    expected["caregiver_personality"] = _write(
        directory, "caregiver_personality.csv", ["caregiver_id", *PERSONALITY], personality
    )

    patient_rows, patient_personality, conditions, diets = [], [], [], []
    matchings, reviews = [], []
    guardian_of: dict[str, str] = {}
    caregiver_ratings: dict[str, list[int]] = {}
    guardians = max(1, patients * 7 // 10)
    for index in range(1, patients + 1):
        pid, gid = f"P{index:05d}", f"G{rng.randint(1, guardians):05d}"
        guardian_of[pid] = gid
        region = rng.choice(REGIONS)
        patient_rows.append([
            pid, gid, name(), date(1930, 1, 1) + timedelta(days=rng.randrange(9_000)),
            rng.choice(["Male", "Female"]), rng.choice(["", f"{rng.uniform(140, 180):.1f}"]),
            f"{rng.uniform(35, 80):.1f}", rng.choice(CARE_LEVELS),
            f"{region.split('_')[1].title()} {rng.randint(1, 999)}", region,
        ])  # fmt: skip
        patient_personality.append([pid, *(rng.randint(0, 100) for _ in PERSONALITY)])
        for condition in rng.sample(CONDITIONS, rng.randint(1, 3)):
            conditions.append([pid, condition, rng.choice(["", "정기 진료 중"])])
        diets.append([pid, "|".join(rng.sample(ALLERGENS, rng.randint(0, 2))), rng.choice(DIETS)])
        request = f"R{index:05d}"
        chosen = rng.sample(caregiver_ids, 3)
        for rank, cid in enumerate(chosen):
            mid = f"M{index:05d}{rank}"
            score = round(rng.uniform(40, 99), 1)
            status = "completed" if rank == 0 and index % 2 else "recommended"
            if index % 10 == 0:  # care split between caregivers: two of these are split off
                status = ("active", "active", "selected")[rank]
            grade = next(g for low, g in GRADES if score >= low)
            created = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 10:00:00"
            contract = {"completed": ["2024-01-01", "2024-12-31"], "active": ["2024-06-01", ""]}
            contract_dates = contract.get(status, ["", ""])
            matchings.append([
                mid, request, pid, cid, rng.randint(0, 100), rng.randint(0, 100),
                rng.randint(0, 100), score, grade, status, "", *contract_dates, created,
            ])  # fmt: skip
            if status == "completed":
                rating = rng.randint(1, 5)
                caregiver_ratings.setdefault(cid, []).append(rating)
                reviews.append([f"V{mid}G", mid, gid, "보호자", rating, "감사합니다", created])
                reviews.append([f"V{mid}C", mid, cid, "요양보호사", 5, "", created])
    expected["patients"] = _write(
        directory,
        "patients_profile.csv",
        ["patient_id", "guardian_id", "name", "birth_date", "gender", "height", "weight",
         "care_level", "care_address", "region_code"],
        patient_rows,
    )  # fmt: skip
    expected["guardians"] = len(set(guardian_of.values()))
    expected["patient_personality"] = _write(
        directory, "patient_personality.csv", ["patient_id", *PERSONALITY], patient_personality
    )
    expected["conditions"] = _write(
        directory, "health_conditions.csv", ["patient_id", "disease_name", "note"], conditions
    )
    expected["diets"] = _write(
        directory,
        "dietary_preferences.csv",
        ["patient_id", "allergy_foods", "restriction_foods"],
        diets,
    )
    expected["matchings"] = _write(
        directory,
        "matching_results.csv",
        ["matching_id", "request_id", "patient_id", "caregiver_id", "personality_score",
         "specialty_score", "region_score", "total_score", "grade", "status", "ai_comment",
         "contract_start_date", "contract_end_date", "created_at"],
        matchings,
    )  # fmt: skip
    expected["splits"] = 2 * (patients // 10)
    expected["requests"] = patients + expected["splits"]
    expected["reviews"] = _write(
        directory,
        "reviews.csv",
        ["review_id", "matching_id", "reviewer_id", "reviewer_type", "rating", "comment",
         "created_at"],
        reviews,
    )  # fmt: skip
    expected["rated_caregivers"] = len(caregiver_ratings)
    expected["rows"] = sum(
        len(rows)
        for rows in (profile, slots, personality, patient_rows, patient_personality, conditions,
                     diets, matchings, reviews)
    )  # fmt: skip
    return expected


# What each table must hold, as (label, SQL count, key of the expected dict).
COUNTS = (
    ("caregivers", "SELECT count(*) FROM caregivers", "caregivers"),
    ("caregiver users", "SELECT count(*) FROM users WHERE role = 'caregiver'", "caregivers"),
    ("guardians", "SELECT count(*) FROM guardians", "guardians"),
    ("guardian users", "SELECT count(*) FROM users WHERE role = 'guardian'", "guardians"),
    ("certifications", "SELECT count(*) FROM caregiver_certifications", "certifications"),
    ("specialties", "SELECT count(*) FROM caregiver_specialties", "specialties"),
    ("availability slots", "SELECT count(*) FROM caregiver_availability", "availability"),
    ("caregiver personality", "SELECT count(*) FROM caregiver_personality",
     "caregiver_personality"),
    ("patients", "SELECT count(*) FROM patients", "patients"),
    ("patient personality", "SELECT count(*) FROM patient_personality", "patient_personality"),
    ("conditions", "SELECT count(*) FROM patient_conditions", "conditions"),
    ("diets", "SELECT count(*) FROM patient_diets", "diets"),
    ("matching requests", "SELECT count(*) FROM matching_requests", "requests"),
    ("matching results", "SELECT count(*) FROM matching_results", "matchings"),
    ("reviews", "SELECT count(*) FROM reviews", "reviews"),
    ("rated caregivers", "SELECT count(*) FROM caregivers WHERE total_reviews > 0",
     "rated_caregivers"),
)  # fmt: skip

# Each must return 0 on a healthy database.
INVARIANTS = (
    (
        "users without a password (all imported users must have none)",
        "SELECT count(*) FROM users WHERE password_hash IS NOT NULL",
    ),
    (
        "lookup rows pointing at nothing",
        "SELECT count(*) FROM import_source_ids s WHERE NOT EXISTS (SELECT 1 FROM caregivers"
        " WHERE s.entity = 'caregiver' AND caregiver_id = s.target_id UNION ALL SELECT 1 FROM"
        " guardians WHERE s.entity = 'guardian' AND guardian_id = s.target_id UNION ALL SELECT 1"
        " FROM patients WHERE s.entity = 'patient' AND patient_id = s.target_id UNION ALL SELECT"
        " 1 FROM matching_requests WHERE s.entity = 'matching_request' AND request_id ="
        " s.target_id UNION ALL SELECT 1 FROM matching_results WHERE s.entity = 'matching' AND"
        " matching_id = s.target_id UNION ALL SELECT 1 FROM reviews WHERE s.entity = 'review'"
        " AND review_id = s.target_id)",
    ),
    (
        "rows reached by two source ids",
        "SELECT count(*) FROM (SELECT entity, target_id FROM import_source_ids"
        " GROUP BY 1, 2 HAVING count(*) > 1) d",
    ),
    (
        "caregivers whose rating disagrees with their guardians' reviews",
        "SELECT count(*) FROM caregivers c CROSS JOIN LATERAL"
        " (SELECT coalesce(round(avg(rating), 2), 0) AS avg, count(*) AS n FROM reviews r"
        "  WHERE r.caregiver_id = c.caregiver_id AND r.reviewer_role = 'guardian') s"
        " WHERE (c.avg_rating, c.total_reviews) IS DISTINCT FROM (s.avg, s.n)",
    ),
    (
        "reviews of matchings that are not completed",
        "SELECT count(*) FROM reviews r JOIN matching_results m USING (matching_id)"
        " WHERE m.status <> 'completed'",
    ),
    (
        "patients without exactly two audit events (create, update)",
        "SELECT count(*) FROM patients p WHERE (SELECT array_agg(action ORDER BY event_id)"
        " FROM audit_events e WHERE e.patient_id = p.patient_id) IS DISTINCT FROM"
        " ARRAY['create', 'update']",
    ),
)


def _scalar(cur: PgCursor) -> int:
    """The first column of the one row the last query returned (a count or an id)."""
    row = cur.fetchone()
    assert row is not None  # an aggregate query always returns a row
    return int(row[0])


def check(url: str, expected: dict[str, int], change_mark: int) -> list[str]:
    import psycopg2

    problems = []
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            for label, sql, key in COUNTS:
                cur.execute(sql)
                actual = _scalar(cur)
                status = "ok" if actual == expected[key] else f"EXPECTED {expected[key]}"
                print(f"  {label:<24} {actual:>7}  {status}")
                if actual != expected[key]:
                    problems.append(f"{label}: {actual} rows, expected {expected[key]}")
            for label, sql in INVARIANTS:
                cur.execute(sql)
                if (bad := _scalar(cur)) != 0:
                    problems.append(f"{label}: {bad}")
            cur.execute(
                "SELECT DISTINCT table_name FROM ops_row_changes WHERE change_id > %s",
                (change_mark,),
            )
            touched = sorted(row[0] for row in cur.fetchall())
            if touched != ["audit_events"]:
                problems.append(f"the re-run changed data tables: {touched}")
    finally:
        conn.close()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caregivers", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per run (10)")
    args = parser.parse_args()

    os.environ["LOCAL_SETTINGS_PATH"] = os.devnull
    os.environ.setdefault("APP_ENV", "development")
    from devtools.database import (
        create_database,
        drop_database,
        migrate,
        resolve_server_url,
        with_database,
    )

    server = resolve_server_url()
    name = f"neulbom_bench_import_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="pilot-csv-") as tmp:
        directory = Path(tmp)
        expected = generate(directory, args.caregivers, args.patients, args.seed)
        print(
            f"generated {expected['rows']} rows: {args.caregivers} caregivers"
            f" ({expected['availability']} available slots), {args.patients} patients,"
            f" {expected['matchings']} matchings, {expected['reviews']} reviews"
        )
        create_database(server, name)
        try:
            url = with_database(server, name)
            migrate(url)
            os.environ["DATABASE_URL"] = url
            return _measure(directory, url, expected, args.budget)
        finally:
            from shared.db import reset_database

            reset_database()
            drop_database(server, name)


def _measure(directory: Path, url: str, expected: dict[str, int], budget: float) -> int:
    import psycopg2

    from shared.data_import.report import format_table
    from shared.data_import.service import import_directory
    from shared.db import get_database

    db = get_database()
    times: list[float] = []
    change_mark = 0
    for label in ("first import", "re-run (same files)"):
        if times:  # before the re-run: remember where the change log stands
            conn = psycopg2.connect(url)
            with conn, conn.cursor() as cur:
                cur.execute("SELECT coalesce(max(change_id), 0) FROM ops_row_changes")
                change_mark = _scalar(cur)
            conn.close()
        started = time.perf_counter()
        report = import_directory(db, directory)
        times.append(time.perf_counter() - started)
        print(f"\n{label}: {times[-1]:.2f} s")
        print(format_table(report))
        print("seconds per file: " + ", ".join(f"{f.file} {f.seconds:.2f}" for f in report.files))
        if report.rejections:
            print(f"unexpected rejections: {[str(r) for r in report.rejections[:5]]}")
            return 1
        if (split := sum(f.split for f in report.files)) != expected["splits"]:
            print(f"split rows: {split}, expected {expected['splits']}")
            return 1
        changed = [f.file for f in report.files if (f.imported, f.updated) != (0, 0)]
        changed += [f.file for f in report.files if f.unchanged != f.read - f.skipped]
        if len(times) > 1 and changed:
            print(f"the re-run did not report every row unchanged: {sorted(set(changed))}")
            return 1
    print("\ndatabase after both runs:")
    problems = check(url, expected, change_mark)
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    over = [t for t in times if t > budget]
    print(
        f"\nfirst import {times[0]:.2f} s, re-run {times[1]:.2f} s (budget {budget:.0f} s each):"
        f" {'OK' if not over and not problems else 'FAILED'}"
    )
    return 1 if over or problems else 0


if __name__ == "__main__":
    sys.exit(main())
