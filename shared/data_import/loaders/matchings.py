"""matching_results.csv: one matching per matching_id, upserted, and the requests they answer.

A matching needs a request: one synthetic `matching_requests` row per source request_id, marked
`model_version = 'pilot-import'`, care_type `caregiver`, all seven days and the slot 09:00-18:00
(the pilot did not export what was asked), starting on the earliest contract start (or creation
date) of its matchings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.data_import import labels
from shared.data_import import parsers as p
from shared.data_import import repository as repo
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, count, dangling, first_only, parse_rows
from shared.data_import.parsers import PILOT_TIMEZONE, RowError
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "matching_results.csv"

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PLACEHOLDER_SLOTS = [{"start": "09:00", "end": "18:00"}]
SELECTED_OR_ACTIVE = frozenset({"selected", "active"})


@dataclass(frozen=True)
class MatchingRow:
    source_id: str
    request_id: str
    patient_id: str
    caregiver_id: str
    personality_score: Decimal | None
    specialty_score: Decimal | None
    region_score: Decimal | None
    total_score: Decimal
    grade: str
    status: str
    ai_comment: str | None
    contract_start: date | None
    contract_end: date | None
    created_at: datetime | None

    def request_start(self, today: date) -> date:
        """When the synthetic request for this matching starts."""
        if self.contract_start:
            return self.contract_start
        if self.created_at:
            return self.created_at.astimezone(PILOT_TIMEZONE).date()
        return today


def parse_matching(row: CsvRow) -> MatchingRow:
    total = p.decimal(row["total_score"], "total_score", low=0, high=100, required=True)
    assert total is not None  # required
    item = MatchingRow(
        source_id=p.source_id(row["matching_id"], "matching_id"),
        request_id=p.source_id(row["request_id"], "request_id"),
        patient_id=p.source_id(row["patient_id"], "patient_id"),
        caregiver_id=p.source_id(row["caregiver_id"], "caregiver_id"),
        personality_score=p.decimal(row["personality_score"], "personality_score"),
        specialty_score=p.decimal(row["specialty_score"], "specialty_score"),
        region_score=p.decimal(row["region_score"], "region_score"),
        total_score=total,
        grade=labels.grade(row["grade"]),
        status=labels.matching_status(row["status"]),
        ai_comment=p.text(row["ai_comment"], "ai_comment", required=False, max_length=2000),
        contract_start=p.date_value(
            row["contract_start_date"], "contract_start_date", required=False
        ),
        contract_end=p.date_value(row["contract_end_date"], "contract_end_date", required=False),
        created_at=p.timestamp(row["created_at"], "created_at"),
    )
    if item.contract_start and item.contract_end and item.contract_end < item.contract_start:
        raise RowError(
            f"contract_end_date {item.contract_end} is before contract_start_date"
            f" {item.contract_start}"
        )
    return item


@dataclass
class _RequestState:
    """A request's matchings as they will be after this file: key -> (caregiver_id, status)."""

    patient_id: int
    line: int | None  # the file line that created it in this run, None if imported before
    entries: dict[Any, tuple[int, str]] = field(default_factory=dict)

    def conflict(self, key: Any, caregiver_id: int, status: str) -> str | None:
        others = [value for other, value in self.entries.items() if other != key]
        if any(cid == caregiver_id for cid, _ in others):
            return "already has a matching with this caregiver"
        if status in SELECTED_OR_ACTIVE and any(st in SELECTED_OR_ACTIVE for _, st in others):
            return "already has a selected or active matching"
        return None


def load_matchings(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = first_only(
        parse_rows(rows, report, parse_matching),
        report,
        key=lambda item: item.source_id,
        what=lambda item: f"matching_id {item.source_id!r}",
    )
    patients = repo.resolve(cur, "patient", (m.patient_id for _, m in parsed))
    caregivers = repo.resolve(cur, "caregiver", (m.caregiver_id for _, m in parsed))
    known = repo.resolve(cur, "matching", (m.source_id for _, m in parsed))
    known_rows = repo.matchings(cur, known.values())
    requests = _known_requests(cur, (m.request_id for _, m in parsed))

    accepted: list[tuple[MatchingRow, int, int]] = []
    for row, m in parsed:
        patient_id = patients.get(m.patient_id)
        caregiver_id = caregivers.get(m.caregiver_id)
        target = known.get(m.source_id)
        state = requests.get(m.request_id)
        reason = None
        if patient_id is None:
            reason = dangling("patient_id", m.patient_id, "patients_profile.csv")
        elif caregiver_id is None:
            reason = dangling("caregiver_id", m.caregiver_id, "caregivers_profile.csv")
        elif target is not None and known_rows[target]["caregiver_id"] != caregiver_id:
            reason = f"matching_id {m.source_id!r} was imported with another caregiver"
        elif state is not None and state.patient_id != patient_id:
            where = f"line {state.line}" if state.line else "an earlier import"
            reason = f"request_id {m.request_id!r} belongs to another patient ({where})"
        else:
            state = state or requests.setdefault(m.request_id, _RequestState(patient_id, row.line))
            key = ("db", target) if target is not None else ("file", m.source_id)
            problem = state.conflict(key, caregiver_id, m.status)
            if problem:
                reason = f"request_id {m.request_id!r} {problem}"
            else:
                state.entries[key] = (caregiver_id, m.status)
        if reason:
            report.reject(row.line, reason)
        else:
            # No reason: the last branch ran, so both ids were found.
            assert patient_id is not None
            assert caregiver_id is not None
            accepted.append((m, patient_id, caregiver_id))

    request_ids = _write_requests(cur, run, requests, accepted)
    new = [m for m, _, _ in accepted if m.source_id not in known]
    ids = dict(known)
    ids.update(
        zip((m.source_id for m in new), repo.allocate_ids(cur, "matching", len(new)), strict=True)
    )

    def values(m: MatchingRow, patient_id: int, caregiver_id: int) -> repo.ResultValues:
        return (
            ids[m.source_id],
            request_ids[m.request_id],
            patient_id,
            caregiver_id,
            m.total_score,
            m.grade,
            m.status,
            m.personality_score,
            m.specialty_score,
            m.region_score,
            m.ai_comment,
            m.contract_start,
            m.contract_end,
            m.created_at,
        )

    # Updates first: a matching leaving `selected` frees the request for a new one.
    repo.update_results(cur, [values(*a) for a in accepted if a[0].source_id in known])
    repo.insert_results(cur, [values(*a) for a in accepted if a[0].source_id not in known])
    repo.remember(cur, "matching", {m.source_id: ids[m.source_id] for m, _, _ in accepted})
    count(report, (m.source_id in known for m, _, _ in accepted))
    for _, patient_id, _ in accepted:
        run.touch(patient_id, report.file)


def _known_requests(cur: Cursor, source_ids: Iterable[str]) -> dict[str, _RequestState]:
    """Requests imported before, with their matchings as they are now."""
    known = repo.resolve(cur, "matching_request", source_ids)
    patients = repo.request_patients(cur, known.values())
    source_of = {target: source for source, target in known.items()}
    states = {source: _RequestState(patients[target], None) for source, target in known.items()}
    for result in repo.results_of_requests(cur, known.values()):
        state = states[source_of[result["request_id"]]]
        state.entries[("db", result["matching_id"])] = (result["caregiver_id"], result["status"])
    return states


def _write_requests(
    cur: Cursor,
    run: RunState,
    requests: dict[str, _RequestState],
    accepted: list[tuple[MatchingRow, int, int]],
) -> dict[str, int]:
    """Create the synthetic request of each new source request_id; source id -> request_id."""
    known = repo.resolve(cur, "matching_request", requests)
    starts: dict[str, date] = {}
    created: dict[str, datetime] = {}
    for m, _, _ in accepted:
        if m.request_id in known:
            continue
        start = m.request_start(run.today)
        starts[m.request_id] = min(starts.get(m.request_id, start), start)
        if m.created_at:
            created[m.request_id] = min(created.get(m.request_id, m.created_at), m.created_at)
    new = list(starts)
    ids = dict(known)
    ids.update(zip(new, repo.allocate_ids(cur, "matching_request", len(new)), strict=True))
    guardians = repo.patient_guardians(cur, {requests[sid].patient_id for sid in new})
    repo.insert_requests(
        cur,
        [
            (
                ids[sid],
                requests[sid].patient_id,
                guardians[requests[sid].patient_id][1],
                ALL_DAYS,
                PLACEHOLDER_SLOTS,
                starts[sid],
                created.get(sid),
            )
            for sid in new
        ],
    )
    repo.remember(cur, "matching_request", {sid: ids[sid] for sid in new})
    return ids
