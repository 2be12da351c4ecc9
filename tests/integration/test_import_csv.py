"""`import-csv`: the pilot's CSV files into a fresh database, counts, re-runs and rejections.

Each test imports into an empty database (`url`: the module's database, truncated), because
the fixture files use fixed pilot ids and the lookup is database-wide. The fixture set in
tests/data/pilot_csv has valid rows and, in every file, broken ones (unknown label, bad date,
dangling id, wrong field count, duplicates, rule conflicts) whose lines the tests name.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from models.vocabularies import Role
from shared.auth.authorization import PatientAction, authorize_patient
from shared.auth.passwords import verify_password
from shared.auth.principal import Principal
from shared.data_import.report import ImportReport
from shared.data_import.service import DataImportError, import_directory
from shared.db import Database, get_database
from tests.factories import cursor, make_user
from tests.fixtures.database import throwaway_database
from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.integration

PILOT_DIR = Path(__file__).resolve().parents[1] / "data" / "pilot_csv"
TODAY = date(2026, 11, 27)

Counts = tuple[int, int, int, int, int, int, int]

#: file -> (read, imported, updated, unchanged, skipped, rejected, split) on a first import of
#: the fixture set. matching_results.csv: R002 holds an active and a selected matching (M003,
#: M006) and R006 two active and one selected (M008, M009, M010): M006, M009 and M010 are split.
FIRST_RUN: dict[str, Counts] = {
    "caregivers_profile.csv": (6, 3, 0, 0, 0, 3, 0),
    "caregiver_availability.csv": (9, 5, 0, 0, 1, 3, 0),
    "caregiver_personality.csv": (5, 3, 0, 0, 0, 2, 0),
    "patients_profile.csv": (6, 4, 0, 0, 0, 2, 0),
    "patient_personality.csv": (3, 2, 0, 0, 0, 1, 0),
    "health_conditions.csv": (7, 4, 0, 0, 0, 3, 0),
    "dietary_preferences.csv": (4, 3, 0, 0, 0, 1, 0),
    "matching_results.csv": (10, 8, 0, 0, 0, 2, 3),
    "reviews.csv": (7, 2, 0, 0, 0, 5, 0),
}

#: (file, line, words the reason must contain): every broken row of the fixture set.
EXPECTED_REJECTIONS = [
    ("caregivers_profile.csv", 5, ("unknown label", "specialties", "'요리'")),
    ("caregivers_profile.csv", 6, ("bad date", "birth_date", "'1970-02-30'")),
    ("caregivers_profile.csv", 7, ("expected 10 fields, found 9",)),
    ("caregiver_availability.csv", 8, ("dangling caregiver_id", "'C004'")),
    ("caregiver_availability.csv", 9, ("start_time 18:00 is not before end_time 09:00",)),
    ("caregiver_availability.csv", 10, ("unknown label", "day_of_week", "'Xyz'")),
    ("caregiver_personality.csv", 5, ("dangling caregiver_id", "'C999'")),
    ("caregiver_personality.csv", 6, ("bad number", "activity_score", "'abc'")),
    ("patients_profile.csv", 5, ("bad date", "birth_date", "'1940-13-01'")),
    ("patients_profile.csv", 6, ("unknown label", "care_level", "'9등급'")),
    ("patient_personality.csv", 4, ("dangling patient_id", "'P004'")),
    ("health_conditions.csv", 6, ("unknown label", "disease_name", "'감기'")),
    ("health_conditions.csv", 7, ("dangling patient_id", "'P999'")),
    ("health_conditions.csv", 8, ("duplicate", "dementia", "first on line 2")),
    ("dietary_preferences.csv", 5, ("unknown label", "allergy_foods", "'초콜릿'")),
    ("matching_results.csv", 6, ("dangling patient_id", "'P999'")),
    ("matching_results.csv", 8, ("bad date", "contract_start_date", "'2024-13-45'")),
    ("reviews.csv", 4, ("'M003'", "is active, not completed")),
    ("reviews.csv", 5, ("dangling matching_id", "'M999'")),
    ("reviews.csv", 6, ("'G002'", "is not the guardian")),
    ("reviews.csv", 7, ("rating 9 is out of range",)),
    ("reviews.csv", 8, ("unknown label", "reviewer_type", "'친구'")),
]

#: Tables the import writes; a re-run of the same files must leave their rows as they were.
DATA_TABLES = (
    "users",
    "guardians",
    "patients",
    "patient_conditions",
    "patient_diets",
    "patient_personality",
    "caregivers",
    "caregiver_personality",
    "caregiver_certifications",
    "caregiver_specialties",
    "caregiver_availability",
    "matching_requests",
    "matching_results",
    "reviews",
)


@pytest.fixture(scope="module")
def module_database_url(pg_server_url: str) -> Iterator[str]:
    """One migrated database for this module (creating and dropping one per test is slow)."""
    with throwaway_database(pg_server_url, migrated=True) as database_url:
        yield database_url


@pytest.fixture
def url(module_database_url: str) -> str:
    """The module's database, emptied: every table truncated and every id sequence restarted.

    The audit log refuses TRUNCATE (migration 0006); this fixture, as the owner, lifts that guard
    for its own transaction only (ALTER TABLE holds the table's lock until the commit).
    """
    with cursor(module_database_url) as cur:
        cur.execute(
            "SELECT string_agg(format('%I', tablename), ', ') AS tables FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        tables = cur.fetchone()["tables"]
        cur.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate")
        cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        cur.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate")
    return module_database_url


@pytest.fixture
def db(url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The app's database pool pointed at the emptied module database."""
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", url)
    return get_database()


def run(db: Database, directory: Path = PILOT_DIR, **kwargs: Any) -> ImportReport:
    return import_directory(db, directory, today=TODAY, **kwargs)


def counts(report: ImportReport) -> dict[str, Counts]:
    return {
        f.file: (f.read, f.imported, f.updated, f.unchanged, f.skipped, f.rejected, f.split)
        for f in report.files
    }


def query(url: str, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    with cursor(url) as cur:
        cur.execute(sql, params)
        return [dict(row) for row in cur.fetchall()]


def table_counts(url: str) -> dict[str, int]:
    return {
        table: query(url, f"SELECT count(*) AS n FROM {table}")[0]["n"] for table in DATA_TABLES
    }


def caregiver(url: str, source_id: str) -> dict[str, Any]:
    [row] = query(
        url,
        "SELECT c.*, u.email, u.name, u.gender, u.role, u.password_hash,"
        " (SELECT array_agg(code ORDER BY code) FROM caregiver_certifications x"
        "   WHERE x.caregiver_id = c.caregiver_id) AS certifications,"
        " (SELECT array_agg(code ORDER BY code) FROM caregiver_specialties x"
        "   WHERE x.caregiver_id = c.caregiver_id) AS specialties,"
        " (SELECT array_agg(day || ' ' || to_char(start_time, 'HH24:MI') || '-'"
        "   || to_char(end_time, 'HH24:MI') ORDER BY day, start_time)"
        "   FROM caregiver_availability x WHERE x.caregiver_id = c.caregiver_id) AS slots"
        " FROM import_source_ids s JOIN caregivers c ON c.caregiver_id = s.target_id"
        " JOIN users u ON u.user_id = c.user_id WHERE s.entity = 'caregiver' AND s.source_id = %s",
        (source_id,),
    )
    return row


def patient(url: str, source_id: str) -> dict[str, Any]:
    [row] = query(
        url,
        "SELECT p.*, g.address AS guardian_address, u.email AS guardian_email,"
        " u.name AS guardian_name, u.password_hash AS guardian_password_hash,"
        " d.diet_type, d.allergens,"
        " (SELECT array_agg(code || ':' || coalesce(note, '') ORDER BY code)"
        "   FROM patient_conditions x WHERE x.patient_id = p.patient_id) AS conditions,"
        " pp.empathy, pp.activity, pp.patience, pp.independence, pp.source AS personality_source"
        " FROM import_source_ids s JOIN patients p ON p.patient_id = s.target_id"
        " JOIN guardians g ON g.guardian_id = p.guardian_id JOIN users u ON u.user_id = g.user_id"
        " LEFT JOIN patient_diets d ON d.patient_id = p.patient_id"
        " LEFT JOIN patient_personality pp ON pp.patient_id = p.patient_id"
        " WHERE s.entity = 'patient' AND s.source_id = %s",
        (source_id,),
    )
    return row


def copy_pilot(tmp_path: Path, *names: str) -> Path:
    """A directory holding the named fixture files (all of them when none is named)."""
    directory = tmp_path / "pilot"
    directory.mkdir()
    for path in PILOT_DIR.iterdir():
        if not names or path.name in names:
            shutil.copy(path, directory / path.name)
    return directory


def replace_line(path: Path, starts_with: str, new_line: str | None) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    [index] = [i for i, line in enumerate(lines) if line.startswith(starts_with)]
    if new_line is None:
        del lines[index]
    else:
        lines[index] = new_line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- a first import ---------------------------------------------------------------------------


def test_first_import_counts_every_row_once(db: Database) -> None:
    report = run(db)

    assert counts(report) == FIRST_RUN
    for f in report.files:
        assert f.read == f.imported + f.updated + f.unchanged + f.skipped + f.rejected
    assert not report.dry_run


def test_caregivers_are_imported_with_codes_accounts_and_slots(db: Database, url: str) -> None:
    run(db)

    c001 = caregiver(url, "C001")
    assert c001["email"] == "caregiver-C001@import.invalid"
    assert c001["password_hash"] is None
    assert (c001["role"], c001["name"], c001["gender"]) == ("caregiver", "김영희", "female")
    assert c001["birth_date"] == date(1968, 3, 14)
    assert (c001["experience_years"], c001["service_region"]) == (12, "SEOUL_GANGNAM")
    assert (c001["has_vehicle"], c001["hourly_rate"]) == (True, 15000)
    assert c001["certifications"] == ["caregiver_1"]
    assert c001["specialties"] == ["bedridden_care", "dementia"]
    assert c001["slots"] == ["mon 09:00-18:00", "tue 09:00-18:00"]  # Wed is_available False
    assert (c001["avg_rating"], c001["total_reviews"]) == (Decimal("5.00"), 1)
    c002 = caregiver(url, "C002")
    assert c002["certifications"] == ["caregiver_2", "nurse_aide"]
    assert c002["specialties"] == ["diabetes", "rehabilitation"]
    assert c002["gender"] == "male"
    [personality] = query(
        url,
        "SELECT empathy, activity, patience, independence, source FROM caregiver_personality"
        " WHERE caregiver_id = %s",
        (c001["caregiver_id"],),
    )
    assert personality == {
        "empathy": 80,
        "activity": 60,
        "patience": 90,
        "independence": 50,
        "source": "import",
    }
    emails = {row["email"] for row in query(url, "SELECT email FROM users")}
    assert "caregiver-C004@import.invalid" not in emails  # rejected rows create nothing


def test_patients_get_guardians_diets_conditions_and_personality(db: Database, url: str) -> None:
    run(db)

    p001 = patient(url, "P001")
    assert (p001["name"], p001["birth_date"], p001["gender"]) == (
        "김순자",
        date(1938, 4, 12),
        "female",
    )
    assert (p001["height_cm"], p001["weight_kg"]) == (Decimal("152.5"), Decimal("48.0"))
    assert (p001["care_level"], p001["region_code"]) == ("grade_3", "SEOUL_GANGNAM")
    assert p001["mobility_status"] == "independent"
    assert p001["guardian_email"] == "guardian-G001@import.invalid"
    assert p001["guardian_name"] == "보호자 G001"
    assert p001["guardian_password_hash"] is None
    assert p001["guardian_address"] == "서울특별시 강남구 테헤란로 1"
    assert (p001["diet_type"], p001["allergens"]) == ("low_sodium", ["soy", "egg"])
    assert p001["conditions"] == ["dementia:초기 단계", "hypertension:"]
    assert (p001["empathy"], p001["personality_source"]) == (60, "import")
    p002 = patient(url, "P002")
    assert p002["guardian_id"] == p001["guardian_id"]
    assert p002["care_level"] == "cognitive_support"
    assert (p002["diet_type"], p002["allergens"]) == ("low_sugar", [])
    assert p002["empathy"] == 56  # 55.5 rounds to the nearest whole score
    p003 = patient(url, "P003")
    assert (p003["height_cm"], p003["weight_kg"], p003["care_level"]) == (None, None, "none")
    p006 = patient(url, "P006")
    assert p006["care_address"] == "부산광역시 해운대구, 4"  # a quoted comma
    assert p006["guardian_address"] == "부산광역시 해운대구, 4"
    assert p006["diet_type"] is None  # its only diet row was rejected
    guardians = query(url, "SELECT email FROM users WHERE role = 'guardian' ORDER BY email")
    assert [g["email"] for g in guardians] == [
        "guardian-G001@import.invalid",
        "guardian-G002@import.invalid",
        "guardian-G004@import.invalid",
    ]  # G003 had only rejected patients


def test_matchings_get_synthetic_requests_and_reviews(db: Database, url: str) -> None:
    run(db)

    rows = query(
        url,
        "SELECT s.source_id, m.*, r.care_type, r.days, r.time_slots, r.start_date,"
        " r.model_version, r.requested_by, rs.source_id AS request_source"
        " FROM import_source_ids s JOIN matching_results m ON m.matching_id = s.target_id"
        " JOIN matching_requests r ON r.request_id = m.request_id"
        " JOIN import_source_ids rs ON rs.entity = 'matching_request'"
        "  AND rs.target_id = r.request_id"
        " WHERE s.entity = 'matching' ORDER BY s.source_id",
    )
    by_source = {row["source_id"]: row for row in rows}
    assert sorted(by_source) == ["M001", "M002", "M003", "M004", "M006", "M008", "M009", "M010"]
    m001 = by_source["M001"]
    assert (m001["score"], m001["grade"], m001["status"]) == (Decimal("88.20"), "A", "completed")
    assert m001["personality_score"] == Decimal("85.50")
    assert (m001["contract_start_date"], m001["contract_end_date"]) == (
        date(2024, 1, 10),
        date(2024, 6, 30),
    )
    assert m001["created_at"] == datetime(2024, 1, 5, 1, 30, tzinfo=UTC)  # 10:30 KST
    assert m001["request_source"] == by_source["M002"]["request_source"] == "R001"
    assert m001["request_id"] == by_source["M002"]["request_id"]
    assert m001["care_type"] == "caregiver"
    assert m001["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert m001["time_slots"] == [{"start": "09:00", "end": "18:00"}]
    assert m001["model_version"] == "pilot-import"
    assert m001["start_date"] == date(2024, 1, 5)  # earliest of its matchings (M002's creation)
    p001 = patient(url, "P001")
    [guardian_user] = query(
        url,
        "SELECT user_id FROM guardians WHERE guardian_id = %s",
        (p001["guardian_id"],),
    )
    assert m001["requested_by"] == guardian_user["user_id"]
    assert by_source["M004"]["status"] == "declined"  # Korean label 거절
    assert by_source["M003"]["created_at"] == datetime(2024, 2, 20, 0, 0, tzinfo=UTC)
    assert by_source["M006"]["request_source"] == "R002/M006"  # split off R002 (see below)
    # R001, R002, R003, R006 and the split requests R002/M006, R006/M009, R006/M010
    assert query(url, "SELECT count(*) AS n FROM matching_requests")[0]["n"] == 7

    reviews = query(
        url,
        "SELECT s.source_id, r.reviewer_role, r.rating, r.comment, r.matching_id, u.email"
        " FROM import_source_ids s JOIN reviews r ON r.review_id = s.target_id"
        " JOIN users u ON u.user_id = r.reviewer_id WHERE s.entity = 'review'"
        " ORDER BY s.source_id",
    )
    assert [(r["source_id"], r["reviewer_role"], r["rating"], r["email"]) for r in reviews] == [
        ("V001", "guardian", 5, "guardian-G001@import.invalid"),
        ("V002", "caregiver", 4, "caregiver-C001@import.invalid"),
    ]
    assert {r["matching_id"] for r in reviews} == {m001["matching_id"]}


def live_matchings(url: str, request_source: str) -> list[dict[str, Any]]:
    """The matchings imported for a pilot request_id, with the source id of the request each
    ended up in (its own, or the one split off for it)."""
    return query(
        url,
        "SELECT s.source_id, m.status, m.matching_id, m.request_id, m.patient_id,"
        " rs.source_id AS request_source, r.model_version, cu.user_id AS caregiver_user_id"
        " FROM import_source_ids s JOIN matching_results m ON m.matching_id = s.target_id"
        " JOIN matching_requests r ON r.request_id = m.request_id"
        " JOIN import_source_ids rs ON rs.entity = 'matching_request'"
        "  AND rs.target_id = r.request_id"
        " JOIN caregivers c ON c.caregiver_id = m.caregiver_id"
        " JOIN users cu ON cu.user_id = c.user_id"
        " WHERE s.entity = 'matching' AND (rs.source_id = %s OR rs.source_id LIKE %s)"
        " ORDER BY s.source_id",
        (request_source, request_source + "/%"),
    )


def test_several_live_matchings_on_one_request_are_split_not_lost(db: Database, url: str) -> None:
    # R006: M008 and M009 active (care split between C001 and C002), M010 selected (C003);
    # R002: M003 active and M006 selected. The schema allows one of them per request.
    report = run(db)

    matchings = report.file("matching_results.csv")
    assert [r.line for r in matchings.rejections] == [6, 8]  # neither is a split conflict
    assert [(s.line, s.note) for s in matchings.splits] == [
        (
            7,
            "request_id 'R002' already has a selected or active matching: selected matching_id"
            " 'M006' imported into a request of its own ('R002/M006')",
        ),
        (
            10,
            "request_id 'R006' already has a selected or active matching: active matching_id"
            " 'M009' imported into a request of its own ('R006/M009')",
        ),
        (
            11,
            "request_id 'R006' already has a selected or active matching: selected matching_id"
            " 'M010' imported into a request of its own ('R006/M010')",
        ),
    ]
    r006 = live_matchings(url, "R006")
    assert [(m["source_id"], m["status"], m["request_source"]) for m in r006] == [
        ("M008", "active", "R006"),
        ("M009", "active", "R006/M009"),
        ("M010", "selected", "R006/M010"),
    ]
    assert len({m["request_id"] for m in r006}) == 3
    assert {m["model_version"] for m in r006} == {"pilot-import"}
    assert len({m["patient_id"] for m in r006}) == 1
    r002 = live_matchings(url, "R002")
    assert [(m["source_id"], m["request_source"]) for m in r002] == [
        ("M003", "R002"),
        ("M006", "R002/M006"),
    ]
    # The care relationships hold: each active caregiver may read the patient's care, the
    # selected one sees the offer summary.
    with cursor(url) as cur:
        for m in r006:
            principal = Principal(m["caregiver_user_id"], Role.CAREGIVER, "c@example.com", "c")
            action = (
                PatientAction.READ_CARE
                if m["status"] == "active"
                else PatientAction.READ_OFFER_SUMMARY
            )
            access = authorize_patient(cur, principal, m["patient_id"], action)
            assert access.patient_id == m["patient_id"]


def test_a_rerun_keeps_split_matchings_in_their_requests(db: Database, url: str) -> None:
    run(db)
    before = {m["source_id"]: m for m in live_matchings(url, "R006")}

    report = run(db)

    assert counts(report)["matching_results.csv"] == (10, 0, 0, 8, 0, 2, 3)
    assert [s.line for s in report.file("matching_results.csv").splits] == [7, 10, 11]
    assert "split off by an earlier import" in report.file("matching_results.csv").splits[1].note
    after = {m["source_id"]: m for m in live_matchings(url, "R006")}
    assert after == before
    assert query(url, "SELECT count(*) AS n FROM matching_requests")[0]["n"] == 7


def test_a_matching_that_becomes_live_on_a_taken_request_moves_to_its_own(
    db: Database, url: str, tmp_path: Path
) -> None:
    run(db)
    directory = copy_pilot(tmp_path)
    # M002 (recommended on R001, whose M001 is completed) becomes active, then M001 too.
    replace_line(
        directory / "matching_results.csv",
        "M002,",
        "M002,R001,P001,C003,80,85,90,84.0,A,active,,2024-08-01,,2024-01-05 10:30:00",
    )
    replace_line(
        directory / "matching_results.csv",
        "M001,",
        "M001,R001,P001,C001,85.5,90,100,88.2,A,active,,2024-01-10,,2024-01-05 10:30:00",
    )

    report = run(db, directory)

    assert counts(report)["matching_results.csv"] == (10, 0, 2, 6, 0, 2, 4)
    r001 = live_matchings(url, "R001")
    assert [(m["source_id"], m["status"], m["request_source"]) for m in r001] == [
        ("M001", "active", "R001"),
        ("M002", "active", "R001/M002"),
    ]


# -- rejections -------------------------------------------------------------------------------


def test_each_broken_row_is_rejected_with_file_line_and_reason(db: Database) -> None:
    report = run(db)

    actual = [(r.file, r.line, r.reason) for r in report.rejections]
    assert [(file, line) for file, line, _ in actual] == [
        (file, line) for file, line, _ in EXPECTED_REJECTIONS
    ]
    for (_, _, reason), (file, line, words) in zip(actual, EXPECTED_REJECTIONS, strict=True):
        for word in words:
            assert word in reason, f"{file}:{line}: {reason!r} should mention {word!r}"


def test_dangling_ids_resolve_against_an_earlier_import(db: Database, tmp_path: Path) -> None:
    parents = copy_pilot(tmp_path, "caregivers_profile.csv")
    assert counts(run(db, parents))["caregivers_profile.csv"] == FIRST_RUN["caregivers_profile.csv"]
    children = tmp_path / "children"
    children.mkdir()
    shutil.copy(PILOT_DIR / "caregiver_availability.csv", children)

    report = run(db, children)

    # Same result as in one run: C001..C003 exist from the earlier import, C004 does not.
    assert counts(report) == {"caregiver_availability.csv": FIRST_RUN["caregiver_availability.csv"]}
    assert [r.line for r in report.rejections if "dangling" in r.reason] == [8]


def test_a_file_without_a_needed_column_stops_the_run_before_writing(
    db: Database, url: str, tmp_path: Path
) -> None:
    directory = copy_pilot(tmp_path)
    path = directory / "reviews.csv"
    text = path.read_text(encoding="utf-8").replace(",reviewer_type,rating,", ",type,stars,", 1)
    path.write_text(text, encoding="utf-8")

    with pytest.raises(DataImportError, match=r"reviews.csv: header lacks .*reviewer_type, rating"):
        run(db, directory)

    assert table_counts(url)["caregivers"] == 0


def test_a_database_refusal_rolls_back_every_file(db: Database, url: str) -> None:
    # The last file's rows pass validation but the database refuses them (a constraint the
    # import does not know): the files loaded before it must not stay half-imported.
    with cursor(url) as cur:
        cur.execute("ALTER TABLE reviews ADD CONSTRAINT test_refuse_all CHECK (rating > 5)")
    try:
        with pytest.raises(DataImportError, match=r"reviews.csv: the database refused") as caught:
            run(db)
    finally:
        db.close()
        with cursor(url) as cur:
            cur.execute("ALTER TABLE reviews DROP CONSTRAINT test_refuse_all")

    assert "nothing was imported" in str(caught.value)
    assert set(table_counts(url).values()) == {0}
    assert query(url, "SELECT count(*) AS n FROM import_source_ids")[0]["n"] == 0
    assert query(url, "SELECT count(*) AS n FROM audit_events")[0]["n"] == 0


def test_dry_run_counts_like_a_real_run_and_writes_nothing(db: Database, url: str) -> None:
    report = run(db, dry_run=True)

    assert report.dry_run
    assert counts(report) == FIRST_RUN
    assert set(table_counts(url).values()) == {0}
    assert query(url, "SELECT count(*) AS n FROM audit_events")[0]["n"] == 0


def test_a_second_review_by_the_same_reviewer_is_rejected(db: Database, tmp_path: Path) -> None:
    directory = copy_pilot(tmp_path)
    with (directory / "reviews.csv").open("a", encoding="utf-8") as handle:
        handle.write("V008,M001,G001,guardian,4,또 씁니다,2024-07-03\n")

    report = run(db, directory)

    assert counts(report)["reviews.csv"] == (8, 2, 0, 0, 0, 6, 0)
    last = report.file("reviews.csv").rejections[-1]
    assert last.reason == "reviewer_id 'G001' already reviewed matching_id 'M001'"


def test_an_email_taken_by_another_kind_of_account_rejects_the_row(db: Database, url: str) -> None:
    with cursor(url) as cur:
        make_user(cur, "guardian", email="caregiver-C002@import.invalid")

    report = run(db)

    assert counts(report)["caregivers_profile.csv"] == (6, 2, 0, 0, 0, 4, 0)
    assert str(report.file("caregivers_profile.csv").rejections[0]) == (
        "caregivers_profile.csv:3: caregiver-C002@import.invalid belongs to a guardian account"
    )
    # C002's slots and personality now point at nothing that was imported.
    assert counts(report)["caregiver_availability.csv"] == (9, 3, 0, 0, 1, 5, 0)
    assert query(url, "SELECT count(*) AS n FROM caregivers")[0]["n"] == 2


def test_caregivers_on_existing_accounts_have_their_sets_replaced_not_duplicated(
    db: Database, url: str
) -> None:
    """Only caregivers on accounts the run created take the plain-INSERT path; one whose
    account already exists (here: the lookup was lost, the accounts and rows were not) has its
    certifications, specialties and slots compared and replaced, so nothing is inserted twice."""
    run(db)
    before = caregiver(url, "C001")
    slots_before = table_counts(url)["caregiver_availability"]
    with cursor(url) as cur:
        cur.execute("DELETE FROM import_source_ids WHERE entity = 'caregiver'")

    report = run(db)

    assert report.file("caregivers_profile.csv").rejected == 3  # as in the first run
    after = caregiver(url, "C001")
    assert after["caregiver_id"] == before["caregiver_id"]
    for column in ("certifications", "specialties", "slots"):
        assert after[column] == before[column]
    assert table_counts(url)["caregiver_availability"] == slots_before


# -- re-runs ----------------------------------------------------------------------------------


def test_a_rerun_reports_every_row_unchanged_and_changes_no_row(db: Database, url: str) -> None:
    run(db)
    before = table_counts(url)
    [mark] = query(url, "SELECT coalesce(max(change_id), 0) AS id FROM ops_row_changes")

    report = run(db)

    # Nothing imported, nothing updated: every accepted row is counted as unchanged (the split
    # rows are found in the requests the first run split off for them).
    expected = {
        file: (read, 0, 0, imported, skipped, rejected, split)
        for file, (read, imported, _, _, skipped, rejected, split) in FIRST_RUN.items()
    }
    assert counts(report) == expected
    assert table_counts(url) == before
    # Nothing in the data changed: the only write is the audit (the lookup's rows still point
    # at the same targets, so they are not rewritten either).
    changed = query(
        url,
        "SELECT DISTINCT table_name FROM ops_row_changes WHERE change_id > %s ORDER BY 1",
        (mark["id"],),
    )
    assert [row["table_name"] for row in changed] == ["audit_events"]


def test_a_rerun_with_changed_files_updates_rows_and_replaces_sets(
    db: Database, url: str, tmp_path: Path
) -> None:
    run(db)
    c001_before = caregiver(url, "C001")
    directory = copy_pilot(tmp_path)
    replace_line(
        directory / "caregivers_profile.csv",
        "C001,",
        "C001,김영희,Female,1968-03-14,13,요양보호사 2급|간호사,치매,SEOUL_MAPO,False,16000",
    )
    availability = directory / "caregiver_availability.csv"
    replace_line(availability, "C001,Tue,", "C001,Thu,10:00,14:00,True")
    replace_line(directory / "health_conditions.csv", "P001,고혈압,", None)
    replace_line(
        directory / "patients_profile.csv",
        "P003,",
        "P003,G002,이영자,1942-12-01,Female,155,51.5,4등급,"
        "경기도 고양시 일산동구 2,GYEONGGI_GOYANG",
    )
    replace_line(
        directory / "matching_results.csv",
        "M002,",
        "M002,R001,P001,C003,80,85,90,84.0,A,cancelled,,,,2024-01-05 10:30:00",
    )

    report = run(db, directory)

    # Only the changed rows count as updated (or imported: C001's new Thursday slot).
    assert counts(report)["caregivers_profile.csv"] == (6, 0, 1, 2, 0, 3, 0)
    assert counts(report)["caregiver_availability.csv"] == (9, 1, 0, 4, 1, 3, 0)
    assert counts(report)["health_conditions.csv"] == (6, 0, 0, 3, 0, 3, 0)
    assert counts(report)["patients_profile.csv"] == (6, 0, 1, 3, 0, 2, 0)
    assert counts(report)["matching_results.csv"] == (10, 0, 1, 7, 0, 2, 3)
    c001 = caregiver(url, "C001")
    assert c001["caregiver_id"] == c001_before["caregiver_id"]
    assert c001["user_id"] == c001_before["user_id"]
    assert (c001["experience_years"], c001["service_region"]) == (13, "SEOUL_MAPO")
    assert (c001["has_vehicle"], c001["hourly_rate"]) == (False, 16000)
    assert c001["certifications"] == ["caregiver_2", "nurse"]
    assert c001["specialties"] == ["dementia"]
    assert c001["slots"] == ["mon 09:00-18:00", "thu 10:00-14:00"]
    assert patient(url, "P001")["conditions"] == ["dementia:초기 단계"]
    p003 = patient(url, "P003")
    assert (p003["height_cm"], p003["weight_kg"], p003["care_level"]) == (
        Decimal("155.0"),
        Decimal("51.5"),
        "grade_4",
    )
    [m002] = query(
        url,
        "SELECT m.status FROM import_source_ids s JOIN matching_results m"
        " ON m.matching_id = s.target_id WHERE s.entity = 'matching' AND s.source_id = 'M002'",
    )
    assert m002["status"] == "cancelled"
    assert table_counts(url)["patients"] == 4


# -- audit ------------------------------------------------------------------------------------


def test_one_audit_event_per_imported_patient(db: Database, url: str) -> None:
    run(db)
    run(db)

    events = query(
        url,
        "SELECT e.action, e.actor_user_id, e.actor_role, e.resource_type, e.resource_id,"
        " e.request_id, e.detail, s.source_id FROM audit_events e"
        " JOIN import_source_ids s ON s.entity = 'patient' AND s.target_id = e.patient_id"
        " ORDER BY e.event_id",
    )
    assert [(e["source_id"], e["action"]) for e in events] == [
        ("P001", "create"),
        ("P002", "create"),
        ("P003", "create"),
        ("P006", "create"),
        ("P001", "update"),
        ("P002", "update"),
        ("P003", "update"),
        ("P006", "update"),
    ]
    for event in events:
        assert event["actor_user_id"] is None
        assert (event["actor_role"], event["resource_type"]) == ("import", "import")
        assert event["resource_id"] == event["source_id"]
        assert event["request_id"].startswith("import-")
    assert len({e["request_id"] for e in events}) == 2  # one id per run
    assert events[0]["detail"]["files"] == [
        "patients_profile.csv",
        "patient_personality.csv",
        "health_conditions.csv",
        "dietary_preferences.csv",
        "matching_results.csv",
        "reviews.csv",
    ]
    assert events[3]["detail"]["files"] == ["patients_profile.csv"]  # P006: its diet was rejected


# -- the command ------------------------------------------------------------------------------


def test_command_prints_progress_the_table_and_the_rejected_rows(
    url: str,
) -> None:
    env = manage_env(APP_ENV="development", DATABASE_URL=url)

    result = run_manage("import-csv", str(PILOT_DIR), "--max-errors", "5", env=env)

    assert result.returncode == 0, result.stderr
    assert (
        "caregivers_profile.csv: 3 imported, 0 updated, 0 unchanged, 0 skipped, 3 rejected,"
        " 0 split" in result.stderr
    )
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        *("file", "read", "imported", "updated", "unchanged", "skipped", "rejected", "split")
    ]
    assert lines[1].split() == ["caregivers_profile.csv", "6", "3", "0", "0", "0", "3", "0"]
    assert lines[8].split() == ["matching_results.csv", "10", "8", "0", "0", "0", "2", "3"]
    assert lines[10].split() == ["total", "57", "34", "0", "0", "1", "22", "3"]
    assert "rejected rows (22):" in result.stdout
    assert "caregivers_profile.csv:7: expected 10 fields, found 9" in result.stdout
    assert "... and 17 more" in result.stdout
    assert "split rows (3, each in a request of its own):" in result.stdout
    assert (
        "matching_results.csv:10: request_id 'R006' already has a selected or active matching:"
        " active matching_id 'M009' imported into a request of its own ('R006/M009')"
    ) in result.stdout
    assert caregiver(url, "C001")["hourly_rate"] == 15000


def test_imported_accounts_sign_in_only_after_set_password(url: str) -> None:
    env = manage_env(APP_ENV="development", DATABASE_URL=url)
    assert run_manage("import-csv", str(PILOT_DIR), "--quiet", env=env).returncode == 0
    assert caregiver(url, "C002")["password_hash"] is None
    password = "pilot-caregiver-password-1"

    result = run_manage("set-password", "caregiver-C002@import.invalid", env=env, stdin=password)

    assert result.returncode == 0, result.stderr
    assert verify_password(caregiver(url, "C002")["password_hash"], password)


@pytest.mark.parametrize(
    ("make_directory", "message"),
    [
        (lambda tmp: tmp / "missing", "is not a directory"),
        (lambda tmp: tmp, "holds none of the pilot files"),
    ],
    ids=["missing-directory", "no-pilot-files"],
)
def test_command_fails_with_status_1_when_it_cannot_run(
    url: str, tmp_path: Path, make_directory, message: str
) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    env = manage_env(APP_ENV="development", DATABASE_URL=url)

    result = run_manage("import-csv", str(make_directory(tmp_path)), env=env)

    assert result.returncode == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_unreachable_database_is_a_clean_failure(tmp_path: Path) -> None:
    env = manage_env(
        APP_ENV="development",
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none?connect_timeout=1",
    )

    result = run_manage("import-csv", str(PILOT_DIR), "--quiet", env=env)

    assert result.returncode == 1
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect("postgresql://nobody@127.0.0.1:9/none", connect_timeout=1)
