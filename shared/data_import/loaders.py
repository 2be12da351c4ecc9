"""One loader per pilot file: validate every row, reject the bad ones, write the rest in batches.

Each loader works in three steps: parse each row on its own (labels, dates, ranges: `RowError`);
resolve the source ids the file refers to with one query per entity (a reference to an id that
is neither in this run nor in an earlier import is a dangling id); then write the accepted rows
with a handful of statements through the repository. Within a file the first row for a key wins
and later duplicates are rejected, naming the line of the first.

What each file replaces:
- caregivers_profile: the caregiver and their account; certifications and specialties become
  exactly the file's lists.
- caregiver_availability: the weekly slots of each caregiver with at least one accepted row
  become exactly that caregiver's available rows (is_available False rows are not stored and
  count as skipped; a caregiver whose rows are all False ends up with no slot). A caregiver whose
  rows were all rejected keeps the slots they had.
- health_conditions: the same per patient for the condition set.
- personality, diet, patients, matchings, reviews: one row per source id, upserted.

New guardians (patients_profile) get the account `guardian-<id>@import.invalid` named
"보호자 <id>" (the pilot has no guardian names) and, as their address, the care_address of their
first accepted patient in the file; existing guardians are never changed.

A matching needs a request: one synthetic `matching_requests` row per source request_id, marked
`model_version = 'pilot-import'`, care_type `caregiver`, all seven days and the slot 09:00-18:00
(the pilot did not export what was asked), starting on the earliest contract start (or creation
date) of its matchings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from shared.data_import import labels
from shared.data_import import parsers as p
from shared.data_import import repository as repo
from shared.data_import.files import CsvRow
from shared.data_import.parsers import PILOT_TIMEZONE, RowError
from shared.data_import.report import FileReport

T = TypeVar("T")
Parsed = list[tuple[CsvRow, T]]

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PLACEHOLDER_SLOTS = [{"start": "09:00", "end": "18:00"}]
SELECTED_OR_ACTIVE = frozenset({"selected", "active"})


@dataclass
class RunState:
    """What one run carries from file to file: the date, and the patients it wrote (for audit)."""

    today: date
    #: patient_id -> (created in this run, names of the files that wrote its data)
    patients: dict[int, tuple[bool, list[str]]] = field(default_factory=dict)

    def touch(self, patient_id: int, file: str, *, created: bool = False) -> None:
        was_created, files = self.patients.get(patient_id, (False, []))
        if file not in files:
            files.append(file)
        self.patients[patient_id] = (was_created or created, files)


def account_email(role: str, source_id: str) -> str:
    """The placeholder address of an imported account (no mail is ever sent to .invalid)."""
    return f"{role}-{source_id}@import.invalid"


# -- shared steps ----------------------------------------------------------------------------


def _parse(rows: list[CsvRow], report: FileReport, parse: Callable[[CsvRow], T]) -> Parsed[T]:
    parsed: Parsed[T] = []
    for row in rows:
        try:
            parsed.append((row, parse(row)))
        except RowError as exc:
            report.reject(row.line, str(exc))
    return parsed


def _first_only(
    parsed: Parsed[T], report: FileReport, key: Callable[[T], Any], what: Callable[[T], str]
) -> Parsed[T]:
    """Keep the first row for each key; reject the later ones."""
    seen: dict[Any, int] = {}
    kept: Parsed[T] = []
    for row, item in parsed:
        first = seen.setdefault(key(item), row.line)
        if first != row.line:
            report.reject(row.line, f"duplicate {what(item)} (first on line {first})")
        else:
            kept.append((row, item))
    return kept


def _dangling(column: str, source_id: str, parent_file: str) -> str:
    return (
        f"dangling {column} {source_id!r} (no such id imported from {parent_file}, now or before)"
    )


def _resolved(
    parsed: Parsed[T],
    report: FileReport,
    mapping: dict[str, int],
    source: Callable[[T], str],
    column: str,
    parent_file: str,
) -> list[tuple[CsvRow, T, int]]:
    """Rows whose reference resolves, with the target id; the others rejected as dangling."""
    kept = []
    for row, item in parsed:
        target = mapping.get(source(item))
        if target is None:
            report.reject(row.line, _dangling(column, source(item), parent_file))
        else:
            kept.append((row, item, target))
    return kept


def _count(report: FileReport, existed: Iterable[bool]) -> None:
    for flag in existed:
        if flag:
            report.updated += 1
        else:
            report.imported += 1


# -- caregivers_profile.csv ------------------------------------------------------------------


@dataclass(frozen=True)
class CaregiverIn:
    source_id: str
    name: str
    gender: str | None
    birth_date: date | None
    experience_years: int
    certifications: list[str]
    specialties: list[str]
    service_region: str
    has_vehicle: bool
    hourly_rate: int

    @property
    def email(self) -> str:
        return account_email("caregiver", self.source_id)


def parse_caregiver(row: CsvRow, today: date) -> CaregiverIn:
    return CaregiverIn(
        source_id=p.source_id(row["caregiver_id"], "caregiver_id"),
        name=p.text(row["name"], "name", max_length=100),
        gender=labels.gender(row["gender"], required=False),
        birth_date=p.birth_date(row["birth_date"], "birth_date", required=False, today=today),
        experience_years=p.integer(row["experience_years"], "experience_years", low=0, high=70),
        certifications=labels.certifications(row["certifications"]),
        specialties=labels.specialties(row["specialties"]),
        service_region=labels.region(row["service_region"], "service_region"),
        has_vehicle=p.boolean(row["has_vehicle"], "has_vehicle"),
        hourly_rate=p.integer(row["hourly_rate"], "hourly_rate", low=1, high=1_000_000),
    )


def _accounts(
    cur: Any,
    report: FileReport,
    role: str,
    parsed: Parsed[T],
    known_users: dict[str, int],
    account: Callable[[T], tuple[str, str, str | None]],
    source: Callable[[T], str],
) -> dict[str, int]:
    """source id -> user_id: known ones as given, the others created (or found by email).

    A row whose placeholder email belongs to an account of another role is rejected.
    """
    new = [(row, item) for row, item in parsed if source(item) not in known_users]
    accounts = repo.ensure_users(cur, role, [account(item) for _, item in new])
    users = dict(known_users)
    for row, item in new:
        email = account(item)[0]
        user_id, existing_role = accounts[email.lower()]
        if existing_role != role:
            report.reject(row.line, f"{email} belongs to a {existing_role} account")
        else:
            users[source(item)] = user_id
    return users


def load_caregivers(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = _first_only(
        _parse(rows, report, lambda row: parse_caregiver(row, run.today)),
        report,
        key=lambda c: c.source_id.lower(),
        what=lambda c: f"caregiver_id {c.source_id!r}",
    )
    known = repo.resolve(cur, "caregiver", (c.source_id for _, c in parsed))
    known_users = repo.caregiver_users(cur, known.values())
    users = _accounts(
        cur,
        report,
        "caregiver",
        parsed,
        {sid: known_users[cid] for sid, cid in known.items()},
        account=lambda c: (c.email, c.name, c.gender),
        source=lambda c: c.source_id,
    )
    accepted = [c for _, c in parsed if c.source_id in users]
    repo.update_users(cur, [(users[c.source_id], c.name, c.gender) for c in accepted])
    by_user = repo.upsert_caregivers(
        cur,
        [
            (
                users[c.source_id],
                c.experience_years,
                c.service_region,
                c.has_vehicle,
                c.hourly_rate,
                c.birth_date,
            )
            for c in accepted
        ],
    )
    ids = {c.source_id: by_user[users[c.source_id]] for c in accepted}
    owners = list(ids.values())
    repo.replace_code_sets(
        cur,
        "caregiver_certifications",
        owners,
        [(ids[c.source_id], code) for c in accepted for code in c.certifications],
    )
    repo.replace_code_sets(
        cur,
        "caregiver_specialties",
        owners,
        [(ids[c.source_id], code) for c in accepted for code in c.specialties],
    )
    repo.remember(cur, "caregiver", ids)
    _count(report, (c.source_id in known for c in accepted))


# -- caregiver_availability.csv --------------------------------------------------------------


@dataclass(frozen=True)
class SlotIn:
    caregiver_id: str
    day: str
    start: time
    end: time
    available: bool


def parse_slot(row: CsvRow) -> SlotIn:
    slot = SlotIn(
        caregiver_id=p.source_id(row["caregiver_id"], "caregiver_id"),
        day=labels.day(row["day_of_week"]),
        start=p.time_value(row["start_time"], "start_time"),
        end=p.time_value(row["end_time"], "end_time"),
        available=p.boolean(row["is_available"], "is_available"),
    )
    if slot.start >= slot.end:
        raise RowError(f"start_time {slot.start:%H:%M} is not before end_time {slot.end:%H:%M}")
    return slot


def load_availability(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = _parse(rows, report, parse_slot)
    known = repo.resolve(cur, "caregiver", (s.caregiver_id for _, s in parsed))
    resolved = _resolved(
        parsed, report, known, lambda s: s.caregiver_id, "caregiver_id", "caregivers_profile.csv"
    )
    seen: dict[tuple[int, str, time], int] = {}
    owners: dict[int, None] = {}
    slots: list[tuple[int, str, time, time]] = []
    for row, slot, caregiver_id in resolved:
        if slot.available:
            first = seen.setdefault((caregiver_id, slot.day, slot.start), row.line)
            if first != row.line:
                report.reject(
                    row.line,
                    f"duplicate slot {slot.caregiver_id} {slot.day} {slot.start:%H:%M}"
                    f" (first on line {first})",
                )
                continue
            slots.append((caregiver_id, slot.day, slot.start, slot.end))
        else:
            report.skipped += 1
        owners[caregiver_id] = None
    existing = repo.existing_slots(cur, owners)
    repo.replace_availability(cur, list(owners), slots)
    _count(report, (slot in existing for slot in slots))


# -- caregiver_personality.csv / patient_personality.csv -------------------------------------


@dataclass(frozen=True)
class PersonalityIn:
    owner_id: str
    scores: tuple[int, int, int, int]


def parse_personality(row: CsvRow, owner_column: str) -> PersonalityIn:
    return PersonalityIn(
        owner_id=p.source_id(row[owner_column], owner_column),
        scores=tuple(  # type: ignore[arg-type]
            p.score(row[f"{axis}_score"], f"{axis}_score")
            for axis in ("empathy", "activity", "patience", "independence")
        ),
    )


def _load_personality(
    cur: Any,
    rows: list[CsvRow],
    report: FileReport,
    run: RunState,
    *,
    entity: str,
    parent_file: str,
) -> None:
    owner_column = f"{entity}_id"
    table = f"{entity}_personality"
    parsed = _first_only(
        _parse(rows, report, lambda row: parse_personality(row, owner_column)),
        report,
        key=lambda item: item.owner_id,
        what=lambda item: f"{owner_column} {item.owner_id!r}",
    )
    known = repo.resolve(cur, entity, (item.owner_id for _, item in parsed))
    resolved = _resolved(parsed, report, known, lambda i: i.owner_id, owner_column, parent_file)
    existing = repo.existing_personality(cur, table, (target for _, _, target in resolved))
    repo.upsert_personality(cur, table, [(target, *item.scores) for _, item, target in resolved])
    _count(report, (target in existing for _, _, target in resolved))
    if entity == "patient":
        for _, _, target in resolved:
            run.touch(target, report.file)


def load_caregiver_personality(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState):
    _load_personality(
        cur, rows, report, run, entity="caregiver", parent_file="caregivers_profile.csv"
    )


def load_patient_personality(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState):
    _load_personality(cur, rows, report, run, entity="patient", parent_file="patients_profile.csv")


# -- patients_profile.csv --------------------------------------------------------------------


@dataclass(frozen=True)
class PatientIn:
    source_id: str
    guardian_id: str
    name: str
    birth_date: date
    gender: str
    height_cm: Decimal | None
    weight_kg: Decimal | None
    care_level: str
    care_address: str
    region_code: str


def parse_patient(row: CsvRow, today: date) -> PatientIn:
    born = p.birth_date(row["birth_date"], "birth_date", today=today)
    gender = labels.gender(row["gender"])
    assert born is not None  # required
    assert gender is not None  # required
    return PatientIn(
        source_id=p.source_id(row["patient_id"], "patient_id"),
        guardian_id=p.source_id(row["guardian_id"], "guardian_id"),
        name=p.text(row["name"], "name", max_length=100),
        birth_date=born,
        gender=gender,
        height_cm=p.decimal(row["height"], "height", low=50, high=250, places=1),
        weight_kg=p.decimal(row["weight"], "weight", low=20, high=300, places=1),
        care_level=labels.care_level(row["care_level"]),
        care_address=p.text(row["care_address"], "care_address", max_length=500),
        region_code=labels.region(row["region_code"], "region_code"),
    )


def load_patients(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = _first_only(
        _parse(rows, report, lambda row: parse_patient(row, run.today)),
        report,
        key=lambda item: item.source_id,
        what=lambda item: f"patient_id {item.source_id!r}",
    )
    guardians = _guardians(cur, report, parsed)
    accepted = [item for _, item in parsed if item.guardian_id in guardians]
    known = repo.resolve(cur, "patient", (item.source_id for item in accepted))
    new = [item for item in accepted if item.source_id not in known]
    ids = dict(known)
    ids.update(
        zip((i.source_id for i in new), repo.allocate_ids(cur, "patient", len(new)), strict=True)
    )

    def values(item: PatientIn) -> tuple:
        return (
            ids[item.source_id],
            guardians[item.guardian_id],
            item.name,
            item.birth_date,
            item.gender,
            item.height_cm,
            item.weight_kg,
            item.care_level,
            item.care_address,
            item.region_code,
        )

    repo.insert_patients(cur, [values(item) for item in new])
    repo.update_patients(cur, [values(item) for item in accepted if item.source_id in known])
    repo.remember(cur, "patient", {item.source_id: ids[item.source_id] for item in accepted})
    _count(report, (item.source_id in known for item in accepted))
    for item in accepted:
        run.touch(ids[item.source_id], report.file, created=item.source_id not in known)


def _guardians(cur: Any, report: FileReport, parsed: Parsed[PatientIn]) -> dict[str, int]:
    """guardian source id -> guardian_id, creating the guardians seen for the first time."""
    known = repo.resolve(cur, "guardian", (item.guardian_id for _, item in parsed))
    known_users = repo.guardian_users(cur, known.values())
    first_of: Parsed[PatientIn] = []
    seen: set[str] = set()
    for row, item in parsed:
        if item.guardian_id not in seen:
            seen.add(item.guardian_id)
            first_of.append((row, item))
    users = _accounts(
        cur,
        report,
        "guardian",
        first_of,
        {sid: known_users[gid] for sid, gid in known.items()},
        account=lambda i: (
            account_email("guardian", i.guardian_id),
            f"보호자 {i.guardian_id}",
            None,
        ),
        source=lambda i: i.guardian_id,
    )
    new = [
        item for _, item in first_of if item.guardian_id in users and item.guardian_id not in known
    ]
    by_user = repo.ensure_guardians(
        cur, [(users[item.guardian_id], item.care_address) for item in new]
    )
    ids = dict(known)
    ids.update({item.guardian_id: by_user[users[item.guardian_id]] for item in new})
    repo.remember(cur, "guardian", {sid: gid for sid, gid in ids.items() if sid not in known})
    # Patients of a guardian whose account could not be made: rejected like their first row.
    first_lines = {row.line for row, _ in first_of}
    for row, item in parsed:
        if item.guardian_id not in ids and row.line not in first_lines:
            report.reject(row.line, f"guardian_id {item.guardian_id!r} could not be imported")
    return ids


# -- health_conditions.csv -------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionIn:
    patient_id: str
    code: str
    note: str | None


def parse_condition(row: CsvRow) -> ConditionIn:
    return ConditionIn(
        patient_id=p.source_id(row["patient_id"], "patient_id"),
        code=labels.condition(row["disease_name"]),
        note=p.text(row["note"], "note", required=False, max_length=500),
    )


def load_conditions(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = _first_only(
        _parse(rows, report, parse_condition),
        report,
        key=lambda item: (item.patient_id, item.code),
        what=lambda item: f"condition {item.code} of patient_id {item.patient_id!r}",
    )
    known = repo.resolve(cur, "patient", (item.patient_id for _, item in parsed))
    resolved = _resolved(
        parsed, report, known, lambda i: i.patient_id, "patient_id", "patients_profile.csv"
    )
    owners = list(dict.fromkeys(target for _, _, target in resolved))
    existing = repo.existing_conditions(cur, owners)
    repo.replace_conditions(
        cur, owners, [(target, item.code, item.note) for _, item, target in resolved]
    )
    _count(report, ((target, item.code) in existing for _, item, target in resolved))
    for target in owners:
        run.touch(target, report.file)


# -- dietary_preferences.csv -----------------------------------------------------------------


@dataclass(frozen=True)
class DietIn:
    patient_id: str
    allergens: list[str]
    diet_type: str


def parse_diet(row: CsvRow) -> DietIn:
    return DietIn(
        patient_id=p.source_id(row["patient_id"], "patient_id"),
        allergens=labels.allergens(row["allergy_foods"]),
        diet_type=labels.diet_type(row["restriction_foods"]),
    )


def load_diets(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = _first_only(
        _parse(rows, report, parse_diet),
        report,
        key=lambda item: item.patient_id,
        what=lambda item: f"patient_id {item.patient_id!r}",
    )
    known = repo.resolve(cur, "patient", (item.patient_id for _, item in parsed))
    resolved = _resolved(
        parsed, report, known, lambda i: i.patient_id, "patient_id", "patients_profile.csv"
    )
    existing = repo.existing_diets(cur, (target for _, _, target in resolved))
    repo.upsert_diets(
        cur, [(target, item.diet_type, item.allergens) for _, item, target in resolved]
    )
    _count(report, (target in existing for _, _, target in resolved))
    for _, _, target in resolved:
        run.touch(target, report.file)


# -- matching_results.csv --------------------------------------------------------------------


@dataclass(frozen=True)
class MatchingIn:
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


def parse_matching(row: CsvRow) -> MatchingIn:
    total = p.decimal(row["total_score"], "total_score", low=0, high=100, required=True)
    assert total is not None  # required
    item = MatchingIn(
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


def load_matchings(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = _first_only(
        _parse(rows, report, parse_matching),
        report,
        key=lambda item: item.source_id,
        what=lambda item: f"matching_id {item.source_id!r}",
    )
    patients = repo.resolve(cur, "patient", (m.patient_id for _, m in parsed))
    caregivers = repo.resolve(cur, "caregiver", (m.caregiver_id for _, m in parsed))
    known = repo.resolve(cur, "matching", (m.source_id for _, m in parsed))
    known_rows = repo.matchings(cur, known.values())
    requests = _known_requests(cur, (m.request_id for _, m in parsed))

    accepted: list[tuple[MatchingIn, int, int]] = []
    for row, m in parsed:
        patient_id = patients.get(m.patient_id)
        caregiver_id = caregivers.get(m.caregiver_id)
        target = known.get(m.source_id)
        state = requests.get(m.request_id)
        reason = None
        if patient_id is None:
            reason = _dangling("patient_id", m.patient_id, "patients_profile.csv")
        elif caregiver_id is None:
            reason = _dangling("caregiver_id", m.caregiver_id, "caregivers_profile.csv")
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
            accepted.append((m, patient_id, caregiver_id))  # type: ignore[arg-type]

    request_ids = _write_requests(cur, run, requests, accepted)
    new = [m for m, _, _ in accepted if m.source_id not in known]
    ids = dict(known)
    ids.update(
        zip((m.source_id for m in new), repo.allocate_ids(cur, "matching", len(new)), strict=True)
    )

    def values(m: MatchingIn, patient_id: int, caregiver_id: int) -> tuple:
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
    _count(report, (m.source_id in known for m, _, _ in accepted))
    for _, patient_id, _ in accepted:
        run.touch(patient_id, report.file)


def _known_requests(cur: Any, source_ids: Iterable[str]) -> dict[str, _RequestState]:
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
    cur: Any,
    run: RunState,
    requests: dict[str, _RequestState],
    accepted: list[tuple[MatchingIn, int, int]],
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


# -- reviews.csv -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewIn:
    source_id: str
    matching_id: str
    reviewer_id: str
    reviewer_role: str
    rating: int
    comment: str | None
    created_at: datetime | None


def parse_review(row: CsvRow) -> ReviewIn:
    return ReviewIn(
        source_id=p.source_id(row["review_id"], "review_id"),
        matching_id=p.source_id(row["matching_id"], "matching_id"),
        reviewer_id=p.source_id(row["reviewer_id"], "reviewer_id"),
        reviewer_role=labels.reviewer_role(row["reviewer_type"]),
        rating=p.integer(row["rating"], "rating", low=1, high=5),
        comment=p.text(row["comment"], "comment", required=False, max_length=2000),
        created_at=p.timestamp(row["created_at"], "created_at"),
    )


def load_reviews(cur: Any, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = _first_only(
        _parse(rows, report, parse_review),
        report,
        key=lambda item: item.source_id,
        what=lambda item: f"review_id {item.source_id!r}",
    )
    matching_ids = repo.resolve(cur, "matching", (r.matching_id for _, r in parsed))
    matchings = repo.matchings(cur, matching_ids.values())
    guardians = repo.resolve(
        cur, "guardian", (r.reviewer_id for _, r in parsed if r.reviewer_role == "guardian")
    )
    caregivers = repo.resolve(
        cur, "caregiver", (r.reviewer_id for _, r in parsed if r.reviewer_role == "caregiver")
    )
    guardian_users = repo.guardian_users(cur, guardians.values())
    caregiver_users = repo.caregiver_users(cur, caregivers.values())
    patient_guardians = repo.patient_guardians(cur, (m["patient_id"] for m in matchings.values()))
    known = repo.resolve(cur, "review", (r.source_id for _, r in parsed))

    # (matching_id, reviewer user) -> who holds it: a review_id, or ("file", source id).
    taken: dict[tuple[int, int], Any] = dict(repo.reviews_of_matchings(cur, matching_ids.values()))
    accepted: list[tuple[ReviewIn, dict[str, Any], int]] = []
    for row, r in parsed:
        reason, reviewer = _review_problem(
            r, matching_ids, matchings, guardians, caregivers, patient_guardians
        )
        if reason is None:
            matching = matchings[matching_ids[r.matching_id]]
            users = guardian_users if r.reviewer_role == "guardian" else caregiver_users
            pair = (matching["matching_id"], users[reviewer])
            holder = known.get(r.source_id, ("file", r.source_id))
            if taken.setdefault(pair, holder) != holder:
                reason = (
                    f"reviewer_id {r.reviewer_id!r} already reviewed matching_id {r.matching_id!r}"
                )
            else:
                accepted.append((r, matching, pair[1]))
        if reason:
            report.reject(row.line, reason)

    new = [r for r, _, _ in accepted if r.source_id not in known]
    ids = dict(known)
    ids.update(
        zip((r.source_id for r in new), repo.allocate_ids(cur, "review", len(new)), strict=True)
    )

    def values(r: ReviewIn, matching: dict[str, Any], user_id: int) -> tuple:
        return (
            ids[r.source_id],
            matching["matching_id"],
            matching["caregiver_id"],
            user_id,
            r.reviewer_role,
            r.rating,
            r.comment,
            r.created_at,
        )

    repo.update_reviews(cur, [values(*a) for a in accepted if a[0].source_id in known])
    repo.insert_reviews(cur, [values(*a) for a in accepted if a[0].source_id not in known])
    repo.remember(cur, "review", {r.source_id: ids[r.source_id] for r, _, _ in accepted})
    repo.refresh_caregiver_ratings(cur, {m["caregiver_id"] for _, m, _ in accepted})
    _count(report, (r.source_id in known for r, _, _ in accepted))
    for _, matching, _ in accepted:
        run.touch(matching["patient_id"], report.file)


def _review_problem(  # noqa: PLR0911 (one return per reason)
    r: ReviewIn,
    matching_ids: dict[str, int],
    matchings: dict[int, dict[str, Any]],
    guardians: dict[str, int],
    caregivers: dict[str, int],
    patient_guardians: dict[int, tuple[int, int]],
) -> tuple[str | None, int]:
    """(reason to reject or None, the reviewer's guardian_id or caregiver_id)."""
    target = matching_ids.get(r.matching_id)
    if target is None:
        return _dangling("matching_id", r.matching_id, "matching_results.csv"), 0
    matching = matchings[target]
    if r.reviewer_role == "guardian":
        reviewer = guardians.get(r.reviewer_id)
        if reviewer is None:
            return _dangling("reviewer_id", r.reviewer_id, "patients_profile.csv"), 0
        if patient_guardians[matching["patient_id"]][0] != reviewer:
            return f"reviewer_id {r.reviewer_id!r} is not the guardian of this matching", 0
    else:
        reviewer = caregivers.get(r.reviewer_id)
        if reviewer is None:
            return _dangling("reviewer_id", r.reviewer_id, "caregivers_profile.csv"), 0
        if matching["caregiver_id"] != reviewer:
            return f"reviewer_id {r.reviewer_id!r} is not the caregiver of this matching", 0
    if matching["status"] != "completed":
        return (
            f"matching_id {r.matching_id!r} is {matching['status']}, not completed"
            " (only completed matchings are reviewed)",
            0,
        )
    return None, reviewer


# -- audit -----------------------------------------------------------------------------------


def write_audit(cur: Any, run: RunState, run_id: str) -> None:
    """One event per patient whose data the run wrote: create if the run created the patient,
    else update; the detail lists the files. actor_role 'import', no actor user."""
    if not run.patients:
        return
    sources = repo.source_ids(cur, "patient", run.patients)
    repo.insert_audit_events(
        cur,
        run_id,
        [
            (
                "create" if created else "update",
                patient_id,
                sources.get(patient_id),
                {"files": files, "source_id": sources.get(patient_id)},
            )
            for patient_id, (created, files) in sorted(run.patients.items())
        ],
    )
