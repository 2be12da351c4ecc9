"""patients_profile.csv: one patient per patient_id, upserted, and their guardians.

New guardians get the account `guardian-<id>@import.invalid` named "보호자 <id>" (the pilot has
no guardian names) and, as their address, the care_address of their first accepted patient in
the file; existing guardians are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared.data_import import labels
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import (
    Parsed,
    RunState,
    account_email,
    count,
    ensure_accounts,
    first_only,
    parse_rows,
)
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "patients_profile.csv"


@dataclass(frozen=True)
class PatientRow:
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


def parse_patient(row: CsvRow, today: date) -> PatientRow:
    born = p.birth_date(row["birth_date"], "birth_date", today=today)
    gender = labels.gender(row["gender"])
    assert born is not None  # required
    assert gender is not None  # required
    source_id = p.source_id(row["patient_id"], "patient_id")
    guardian_id = p.source_id(row["guardian_id"], "guardian_id")
    name = p.text(row["name"], "name", max_length=100)
    assert name is not None  # required
    height_cm = p.decimal(row["height"], "height", low=50, high=250, places=1)
    weight_kg = p.decimal(row["weight"], "weight", low=20, high=300, places=1)
    care_level = labels.care_level(row["care_level"])
    care_address = p.text(row["care_address"], "care_address", max_length=500)
    assert care_address is not None  # required
    return PatientRow(
        source_id=source_id,
        guardian_id=guardian_id,
        name=name,
        birth_date=born,
        gender=gender,
        height_cm=height_cm,
        weight_kg=weight_kg,
        care_level=care_level,
        care_address=care_address,
        region_code=labels.region(row["region_code"], "region_code"),
    )


def load_patients(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = first_only(
        parse_rows(rows, report, lambda row: parse_patient(row, run.today)),
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

    def values(item: PatientRow) -> repo.PatientValues:
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
    written = repo.update_patients(
        cur, [values(item) for item in accepted if item.source_id in known]
    )
    repo.remember(cur, "patient", {item.source_id: ids[item.source_id] for item in accepted})
    count(report, ((i.source_id in known, ids[i.source_id] in written) for i in accepted))
    for item in accepted:
        run.touch(ids[item.source_id], report.file, created=item.source_id not in known)


def _guardians(cur: Cursor, report: FileReport, parsed: Parsed[PatientRow]) -> dict[str, int]:
    """guardian source id -> guardian_id, creating the guardians seen for the first time."""
    known = repo.resolve(cur, "guardian", (item.guardian_id for _, item in parsed))
    known_users = repo.guardian_users(cur, known.values())
    first_of: Parsed[PatientRow] = []
    seen: set[str] = set()
    for row, item in parsed:
        if item.guardian_id not in seen:
            seen.add(item.guardian_id)
            first_of.append((row, item))
    users = ensure_accounts(
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
