"""matching_results.csv: one matching per matching_id, upserted, and the requests they answer.

A matching needs a request: one synthetic `matching_requests` row per source request_id, marked
`model_version = 'pilot-import'`, care_type `caregiver`, all seven days and the slot 09:00-18:00
(the pilot did not export what was asked), starting on the earliest contract start (or creation
date) of its matchings.

A request holds at most one selected-or-active matching (the schema's partial unique index). The
pilot's requests may hold several: each one after the first is split off into a synthetic request
of its own, remembered as `R/M` (`split_source_id`), and listed in the report (see
`load_matchings`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared.data_import import labels
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, count, dangling, first_only, parse_rows
from shared.data_import.parsers import PILOT_TIMEZONE, RowError
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "matching_results.csv"

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PLACEHOLDER_SLOTS = [{"start": "09:00", "end": "18:00"}]
SELECTED_OR_ACTIVE = frozenset({"selected", "active"})
SOURCE_ID_MAX = 64  # import_source_ids.source_id


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


def split_source_id(request_id: str, matching_id: str) -> str:
    """The lookup's source id of the request split off for one matching: `R002/M006`.

    A pilot id never holds `/`, so it cannot collide with a real request id; when the pair is
    longer than the lookup's 64 characters, the matching part is a digest of the pair.
    """
    source = f"{request_id}/{matching_id}"
    if len(source) <= SOURCE_ID_MAX:
        return source
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return f"{request_id[: SOURCE_ID_MAX - len(digest) - 1]}/{digest}"


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


@dataclass(frozen=True)
class _Accepted:
    """A row that will be written: the ids it resolved to and the request source id it goes to
    (its own request_id, or `split_source_id` when it was split off)."""

    row: MatchingRow
    patient_id: int
    caregiver_id: int
    request: str


@dataclass
class _Placer:
    """Decides, row by row in file order, whether a matching is rejected or which request it
    goes to (see `load_matchings`); `requests` and `report` change as it goes."""

    report: FileReport
    patients: dict[str, int]
    caregivers: dict[str, int]
    known: dict[str, int]
    requests: dict[str, _RequestState]
    splits: dict[str, int]
    known_rows: dict[int, repo.MatchingResultRow] = field(default_factory=dict)

    def _problem(self, m: MatchingRow) -> str | None:
        """Why the row cannot be imported at all (before its request is looked at)."""
        target = self.known.get(m.source_id)
        state = self.requests.get(m.request_id)
        if m.patient_id not in self.patients:
            return dangling("patient_id", m.patient_id, "patients_profile.csv")
        if m.caregiver_id not in self.caregivers:
            return dangling("caregiver_id", m.caregiver_id, "caregivers_profile.csv")
        if (
            target is not None
            and self.known_rows[target]["caregiver_id"] != self.caregivers[m.caregiver_id]
        ):
            return f"matching_id {m.source_id!r} was imported with another caregiver"
        if state is not None and state.patient_id != self.patients[m.patient_id]:
            where = f"line {state.line}" if state.line else "an earlier import"
            return f"request_id {m.request_id!r} belongs to another patient ({where})"
        return None

    def place(self, line: int, m: MatchingRow) -> _Accepted | None:
        """The accepted row with its request source id, or None (rejected, reported)."""
        reason = self._problem(m)
        if reason:
            self.report.reject(line, reason)
            return None
        patient_id, caregiver_id = self.patients[m.patient_id], self.caregivers[m.caregiver_id]
        target = self.known.get(m.source_id)
        split = split_source_id(m.request_id, m.source_id)
        if target is not None and self.known_rows[target]["request_id"] == self.splits.get(split):
            entries: dict[Any, tuple[int, str]] = {("db", target): (caregiver_id, m.status)}
            self.requests.setdefault(split, _RequestState(patient_id, None, entries))
            self.report.note_split(
                line,
                f"matching_id {m.source_id!r} of request_id {m.request_id!r} stays in its own"
                f" request {split!r} (split off by an earlier import)",
            )
            return _Accepted(m, patient_id, caregiver_id, split)
        state = self.requests.setdefault(m.request_id, _RequestState(patient_id, line))
        key = ("db", target) if target is not None else ("file", m.source_id)
        problem = state.conflict(key, caregiver_id, m.status)
        if problem and m.status not in SELECTED_OR_ACTIVE:
            self.report.reject(line, f"request_id {m.request_id!r} {problem}")
            return None
        if not problem:
            state.entries[key] = (caregiver_id, m.status)
            return _Accepted(m, patient_id, caregiver_id, m.request_id)
        state.entries.pop(key, None)  # it leaves the request (if it was on it)
        self.requests[split] = _RequestState(patient_id, line, {key: (caregiver_id, m.status)})
        self.report.note_split(
            line,
            f"request_id {m.request_id!r} {problem}: {m.status} matching_id {m.source_id!r}"
            f" imported into a request of its own ({split!r})",
        )
        return _Accepted(m, patient_id, caregiver_id, split)


def load_matchings(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    """Upsert the matchings; split off the selected or active ones their request cannot hold.

    The schema allows one selected-or-active matching per request (a partial unique index), but
    the pilot kept several on one request (care split between caregivers, or history kept on one
    request). Such a matching is not rejected: it goes into a synthetic request of its own,
    remembered in the lookup as `split_source_id(request_id, matching_id)`, so a re-run finds it
    there and leaves it. The first selected-or-active matching of a request (in the database,
    else in file order) stays on the request itself. A live matching whose caregiver is already
    on its request is split off the same way; any other conflict is still a rejection.
    """
    parsed = first_only(
        parse_rows(rows, report, parse_matching),
        report,
        key=lambda item: item.source_id,
        what=lambda item: f"matching_id {item.source_id!r}",
    )
    placer = _Placer(
        report,
        patients=repo.resolve(cur, "patient", (m.patient_id for _, m in parsed)),
        caregivers=repo.resolve(cur, "caregiver", (m.caregiver_id for _, m in parsed)),
        known=repo.resolve(cur, "matching", (m.source_id for _, m in parsed)),
        requests=_known_requests(cur, (m.request_id for _, m in parsed)),
        splits=repo.resolve(
            cur,
            "matching_request",
            (split_source_id(m.request_id, m.source_id) for _, m in parsed),
        ),
    )
    placer.known_rows = repo.matchings(cur, placer.known.values())
    accepted = [a for row, m in parsed if (a := placer.place(row.line, m)) is not None]
    known, requests = placer.known, placer.requests

    request_ids = _write_requests(cur, run, requests, accepted)
    new = [a.row for a in accepted if a.row.source_id not in known]
    ids = dict(known)
    ids.update(
        zip((m.source_id for m in new), repo.allocate_ids(cur, "matching", len(new)), strict=True)
    )

    def values(a: _Accepted) -> repo.ResultValues:
        m = a.row
        return (
            ids[m.source_id],
            request_ids[a.request],
            a.patient_id,
            a.caregiver_id,
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

    # Updates first: a matching leaving `selected` (or its request) frees the request for another.
    written = repo.update_results(cur, [values(a) for a in accepted if a.row.source_id in known])
    repo.insert_results(cur, [values(a) for a in accepted if a.row.source_id not in known])
    repo.remember(cur, "matching", {a.row.source_id: ids[a.row.source_id] for a in accepted})
    count(
        report,
        ((a.row.source_id in known, ids[a.row.source_id] in written) for a in accepted),
    )
    for a in accepted:
        run.touch(a.patient_id, report.file)


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
    accepted: list[_Accepted],
) -> dict[str, int]:
    """Create the synthetic request of each new request source id (a pilot request_id, or a
    split one); source id -> request_id."""
    known = repo.resolve(cur, "matching_request", requests)
    starts: dict[str, date] = {}
    created: dict[str, datetime] = {}
    for a in accepted:
        m, sid = a.row, a.request
        if sid in known:
            continue
        start = m.request_start(run.today)
        starts[sid] = min(starts.get(sid, start), start)
        if m.created_at:
            created[sid] = min(created.get(sid, m.created_at), m.created_at)
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
