"""A month of delivered care for one patient, written straight to the tables: what the visit
record tests read back (tests/integration/test_visit_records_*.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from models.dates import KOREA
from shared.visit_records.builder import Month
from tests.factories import (
    TestUser,
    cursor,
    make_care_log,
    make_schedule,
    make_visit,
    set_patient_profile,
)

CONTAINER = "visit-records"


def last_month() -> Month:
    return Month.containing(datetime.now(UTC)).previous()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=KOREA)


@dataclass
class MonthOfCare:
    month: Month
    visits: dict[str, int] = field(default_factory=dict)
    care_logs: dict[str, int] = field(default_factory=dict)
    medications: list[int] = field(default_factory=list)
    incident_id: int = 0


def _evidence(cur: Any, visit_id: int, phase: str, method: str, **values: object) -> None:
    columns = ["visit_id", "phase", "method", *values]
    cur.execute(
        f"INSERT INTO visit_evidence ({', '.join(columns)})"
        f" VALUES ({', '.join(['%s'] * len(columns))})",
        (visit_id, phase, method, *values.values()),
    )


def write_month(
    cur: Any, patient_id: int, caregiver: TestUser, month: Month | None = None
) -> MonthOfCare:
    """Three delivered visits (NFC; GPS with a correction; manual, reviewed), a missed and a
    cancelled one, a task not done, medications given and refused, changes of condition and an
    incident, all in `month` (default: last month in Korea)."""
    month = month or last_month()
    care = MonthOfCare(month)
    first = month.first_day
    days = {name: first.replace(day=d) for name, d in (("nfc", 3), ("gps", 10), ("manual", 17))}
    care.medications = set_patient_profile(cur, patient_id, medications=("아리셉트", "혈압약"))
    cur.execute(
        "INSERT INTO home_tags (patient_id, tag_uid, label) VALUES (%s, %s, '현관')"
        " RETURNING tag_id",
        (patient_id, f"TAG-{patient_id}-01"),
    )
    tag_id = cur.fetchone()["tag_id"]
    for name, day in days.items():
        schedule_id = make_schedule(cur, patient_id, day)
        care.care_logs[f"{name}_meal"] = make_care_log(
            cur, schedule_id, category="meal", task_name="점심 식사 도움", is_completed=True
        )
        care.care_logs[f"{name}_cognitive"] = make_care_log(
            cur, schedule_id, category="cognitive", task_name="회상 대화"
        )
        care.care_logs[f"{name}_other"] = make_care_log(
            cur, schedule_id, category="other", task_name="장보기 동행", is_completed=True
        )
        visit_id = make_visit(
            cur,
            schedule_id,
            caregiver,
            planned_start=at(day, 10),
            check_in_at=at(day, 10, 2),
            check_out_at=at(day, 12, 5),
        )
        care.visits[name] = visit_id
        cur.execute(
            "INSERT INTO visit_tasks (visit_id, care_log_id, outcome, reason) VALUES"
            " (%s, %s, 'done', NULL), (%s, %s, %s, %s)",
            (
                visit_id,
                care.care_logs[f"{name}_meal"],
                visit_id,
                care.care_logs[f"{name}_cognitive"],
                "not_done" if name == "gps" else "done",
                "어르신이 피곤해하심" if name == "gps" else None,
            ),
        )
    nfc, gps, manual = care.visits["nfc"], care.visits["gps"], care.visits["manual"]
    for phase in ("check_in", "check_out"):
        _evidence(cur, nfc, phase, "nfc_tag", tag_id=tag_id, device_time=at(days["nfc"], 10))
        _evidence(cur, gps, phase, "gps", latitude=37.5, longitude=127.03, accuracy_m=12.5)
        _evidence(cur, manual, phase, "manual", reason="휴대폰 배터리 방전")
    cur.execute(
        "UPDATE visits SET needs_review = true, reviewed_at = now() WHERE visit_id = %s", (manual,)
    )
    cur.execute(
        "UPDATE visits SET summary = %s, condition_notes = %s WHERE visit_id = %s",
        (
            "식사량이 평소보다 적음",
            json.dumps({"meal": "점심을 반만 드심", "cognitive": "날짜를 자주 물으심"}),
            nfc,
        ),
    )
    cur.execute(
        "INSERT INTO visit_corrections (visit_id, patient_id, reason_code, proposed_check_in_at,"
        " previous_check_in_at, status, decided_at) VALUES (%s, %s, 'forgot_check_in', %s, %s,"
        " 'approved', now())",
        (gps, patient_id, at(days["gps"], 10, 2), at(days["gps"], 11)),
    )
    given, refused = care.medications
    cur.execute(
        "INSERT INTO medication_administrations (visit_id, patient_id, medication_id, outcome,"
        " administered_at, note) VALUES (%s, %s, %s, 'given', %s, NULL),"
        " (%s, %s, %s, 'refused', NULL, '쓰다고 거부하심')",
        (nfc, patient_id, given, at(days["nfc"], 11), nfc, patient_id, refused),
    )
    cur.execute(
        "INSERT INTO incidents (patient_id, visit_id, kind, severity, occurred_at, description,"
        " actions_taken) VALUES (%s, %s, 'fall', 'moderate', %s, '화장실에서 미끄러짐',"
        " '보호자 연락, 냉찜질') RETURNING incident_id",
        (patient_id, manual, at(days["manual"], 11)),
    )
    care.incident_id = cur.fetchone()["incident_id"]
    missed_day, cancelled_day = first.replace(day=20), first.replace(day=24)
    care.visits["missed"] = make_visit(
        cur,
        make_schedule(cur, patient_id, missed_day),
        caregiver,
        planned_start=at(missed_day, 9),
        status="missed",
    )
    care.visits["cancelled"] = make_visit(
        cur,
        make_schedule(cur, patient_id, cancelled_day),
        caregiver,
        planned_start=at(cancelled_day, 9),
        status="cancelled",
    )
    cur.execute(
        "UPDATE visits SET cancel_reason = '병원 진료' WHERE visit_id = %s",
        (care.visits["cancelled"],),
    )
    # A visit of the next month is not in this month's record.
    next_first = month.next().first_day
    make_visit(
        cur,
        make_schedule(cur, patient_id, next_first),
        caregiver,
        planned_start=at(next_first, 10),
        planned_end=at(next_first, 10) + timedelta(hours=1),
    )
    return care


def audit_events(database_url: str, patient_id: int) -> list[tuple[str, str, str | None]]:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_type, resource_id FROM audit_events"
            " WHERE patient_id = %s AND resource_type LIKE 'visit_record%%' ORDER BY event_id",
            (patient_id,),
        )
        return [(r["action"], r["resource_type"], r["resource_id"]) for r in cur.fetchall()]


def stored_blobs(blob_service: Any, patient_id: int) -> dict[str, dict[str, str]]:
    container = blob_service.get_container_client(CONTAINER)
    if not container.exists():
        return {}
    return {
        b.name: dict(b.metadata or {})
        for b in container.list_blobs(name_starts_with=f"{patient_id}/", include=["metadata"])
    }
