"""What the loaders share: the run's state, the steps every loader takes, imported accounts, the
personality format of the two personality files, and the run's audit events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared import audit
from shared.data_import.files import CsvRow
from shared.data_import.parsers import RowError
from shared.data_import.report import FileReport
from shared.db import Cursor

T = TypeVar("T")
Parsed = list[tuple[CsvRow, T]]


@dataclass
class RunState:
    """What one run carries from file to file: the date, and the patients it wrote (for audit)."""

    today: date
    #: patient_id -> (created in this run, names of the files that wrote its data)
    patients: dict[int, tuple[bool, list[str]]] = field(default_factory=dict)
    #: user_ids of the accounts this run created (no other transaction can see them yet).
    created_users: set[int] = field(default_factory=set)
    #: caregiver_ids created on those accounts: their certifications, specialties and slots are
    #: plain inserts (nothing can exist for them).
    fresh_caregivers: set[int] = field(default_factory=set)
    #: One-line progress messages (the command prints them): a loader of a large file says
    #: which of its steps is done, so minutes of writing are not silent.
    progress: Callable[[str], None] = field(default=lambda _message: None)

    def step(self, file: str, what: str, rows: int) -> None:
        self.progress(f"{file}: {what} ({rows} rows)")

    def touch(self, patient_id: int, file: str, *, created: bool = False) -> None:
        was_created, files = self.patients.get(patient_id, (False, []))
        if file not in files:
            files.append(file)
        self.patients[patient_id] = (was_created or created, files)


def account_email(role: str, source_id: str) -> str:
    """The placeholder address of an imported account (no mail is ever sent to .invalid)."""
    return f"{role}-{source_id}@import.invalid"


# -- the steps -------------------------------------------------------------------------------


def parse_rows(rows: list[CsvRow], report: FileReport, parse: Callable[[CsvRow], T]) -> Parsed[T]:
    """Each row parsed on its own; the ones that raise RowError rejected."""
    parsed: Parsed[T] = []
    for row in rows:
        try:
            parsed.append((row, parse(row)))
        except RowError as exc:
            report.reject(row.line, str(exc))
    return parsed


def first_only(
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


def dangling(column: str, source_id: str, parent_file: str) -> str:
    """The rejection reason of a reference to an id never imported."""
    return (
        f"dangling {column} {source_id!r} (no such id imported from {parent_file}, now or before)"
    )


def resolved(
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
            report.reject(row.line, dangling(column, source(item), parent_file))
        else:
            kept.append((row, item, target))
    return kept


def count(report: FileReport, outcomes: Iterable[tuple[bool, bool]]) -> None:
    """Per accepted row, (its target existed before, this run wrote to it): one `imported` per
    new target, one `updated` per existing one written, one `unchanged` per existing one left as
    it was (the writers skip identical rows and return what they wrote)."""
    for existed, written in outcomes:
        if not existed:
            report.imported += 1
        elif written:
            report.updated += 1
        else:
            report.unchanged += 1


# -- imported accounts (caregivers_profile.csv, patients_profile.csv) ------------------------


def ensure_accounts(
    cur: Cursor,
    report: FileReport,
    role: str,
    parsed: Parsed[T],
    known_users: dict[str, int],
    account: Callable[[T], tuple[str, str, str | None]],
    source: Callable[[T], str],
    created: set[int] | None = None,
) -> dict[str, int]:
    """source id -> user_id: known ones as given, the others created (or found by email).

    A row whose placeholder email belongs to an account of another role is rejected.
    """
    new = [(row, item) for row, item in parsed if source(item) not in known_users]
    accounts = repo.ensure_users(cur, role, [account(item) for _, item in new], created)
    users = dict(known_users)
    for row, item in new:
        email = account(item)[0]
        user_id, existing_role = accounts[email.lower()]
        if existing_role != role:
            report.reject(row.line, f"{email} belongs to a {existing_role} account")
        else:
            users[source(item)] = user_id
    return users


# -- the personality format (caregiver_personality.csv, patient_personality.csv) -------------


@dataclass(frozen=True)
class PersonalityRow:
    """A row of either personality file: the owner's source id and the four axis scores."""

    owner_id: str
    scores: tuple[int, int, int, int]


def parse_personality(row: CsvRow, owner_column: str) -> PersonalityRow:
    owner_id = p.source_id(row[owner_column], owner_column)

    def score(axis: str) -> int:
        return p.score(row[f"{axis}_score"], f"{axis}_score")

    return PersonalityRow(
        owner_id=owner_id,
        scores=(score("empathy"), score("activity"), score("patience"), score("independence")),
    )


def load_personality(
    cur: Cursor,
    rows: list[CsvRow],
    report: FileReport,
    run: RunState,
    *,
    entity: str,
    parent_file: str,
) -> None:
    """One personality per owner (`entity` caregiver or patient), upserted."""
    owner_column = f"{entity}_id"
    table = f"{entity}_personality"
    parsed = first_only(
        parse_rows(rows, report, lambda row: parse_personality(row, owner_column)),
        report,
        key=lambda item: item.owner_id,
        what=lambda item: f"{owner_column} {item.owner_id!r}",
    )
    known = repo.resolve(cur, entity, (item.owner_id for _, item in parsed))
    kept = resolved(parsed, report, known, lambda i: i.owner_id, owner_column, parent_file)
    existing = repo.existing_personality(cur, table, (target for _, _, target in kept))
    written = repo.upsert_personality(
        cur,
        table,
        [(target, *item.scores) for _, item, target in kept],
        run.fresh_caregivers if entity == "caregiver" else (),
    )
    count(report, ((target in existing, target in written) for _, _, target in kept))
    if entity == "patient":
        for _, _, target in kept:
            run.touch(target, report.file)


# -- audit -----------------------------------------------------------------------------------


def write_audit(cur: Cursor, run: RunState, run_id: str) -> None:
    """One event per patient whose data the run wrote: create if the run created the patient,
    else update; the detail lists the files. actor_role 'import', no actor user."""
    if not run.patients:
        return
    sources = repo.source_ids(cur, "patient", run.patients)
    importer = audit.SystemActor("import", audit.operator_name(), request_id=run_id)
    audit.record_events(
        cur,
        importer,
        (
            audit.AuditEvent(
                audit.AuditAction.CREATE if created else audit.AuditAction.UPDATE,
                "import",
                patient_id,
                sources.get(patient_id),
                {"files": files, "source_id": sources.get(patient_id)},
            )
            for patient_id, (created, files) in sorted(run.patients.items())
        ),
    )
