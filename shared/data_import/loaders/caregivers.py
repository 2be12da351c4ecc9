"""caregivers_profile.csv: the caregiver and their account, one row per caregiver_id.

Certifications and specialties become exactly the file's lists. A new caregiver gets the account
`caregiver-<id>@import.invalid` (no password); an existing one has its name and gender updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared.data_import import labels
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import (
    RunState,
    account_email,
    count,
    ensure_accounts,
    first_only,
    parse_rows,
)
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "caregivers_profile.csv"


@dataclass(frozen=True)
class CaregiverRow:
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


def parse_caregiver(row: CsvRow, today: date) -> CaregiverRow:
    source_id = p.source_id(row["caregiver_id"], "caregiver_id")
    name = p.text(row["name"], "name", max_length=100)
    assert name is not None  # required
    return CaregiverRow(
        source_id=source_id,
        name=name,
        gender=labels.gender(row["gender"], required=False),
        birth_date=p.birth_date(row["birth_date"], "birth_date", required=False, today=today),
        experience_years=p.integer(row["experience_years"], "experience_years", low=0, high=70),
        certifications=labels.certifications(row["certifications"]),
        specialties=labels.specialties(row["specialties"]),
        service_region=labels.region(row["service_region"], "service_region"),
        has_vehicle=p.boolean(row["has_vehicle"], "has_vehicle"),
        hourly_rate=p.integer(row["hourly_rate"], "hourly_rate", low=1, high=1_000_000),
    )


def load_caregivers(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = first_only(
        parse_rows(rows, report, lambda row: parse_caregiver(row, run.today)),
        report,
        key=lambda c: c.source_id.lower(),
        what=lambda c: f"caregiver_id {c.source_id!r}",
    )
    known = repo.resolve(cur, "caregiver", (c.source_id for _, c in parsed))
    known_users = repo.caregiver_users(cur, known.values())
    users = ensure_accounts(
        cur,
        report,
        "caregiver",
        parsed,
        {sid: known_users[cid] for sid, cid in known.items()},
        account=lambda c: (c.email, c.name, c.gender),
        source=lambda c: c.source_id,
        created=run.created_users,
    )
    accepted = [c for _, c in parsed if c.source_id in users]
    run.step(FILE, "accounts written", len(users))
    renamed = repo.update_users(  # the accounts this run created already carry both
        cur,
        [
            (users[c.source_id], c.name, c.gender)
            for c in accepted
            if users[c.source_id] not in run.created_users
        ],
    )
    by_user, written = repo.upsert_caregivers(
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
        run.created_users,
    )
    ids = {c.source_id: by_user[users[c.source_id]] for c in accepted}
    run.step(FILE, "profiles written", len(ids))
    owners = list(ids.values())
    run.fresh_caregivers.update(
        ids[c.source_id] for c in accepted if users[c.source_id] in run.created_users
    )
    certifications = repo.replace_code_sets(
        cur,
        "caregiver_certifications",
        owners,
        [(ids[c.source_id], code) for c in accepted for code in c.certifications],
        run.fresh_caregivers,
    )
    specialties = repo.replace_code_sets(
        cur,
        "caregiver_specialties",
        owners,
        [(ids[c.source_id], code) for c in accepted for code in c.specialties],
        run.fresh_caregivers,
    )
    run.step(FILE, "certifications and specialties written", len(ids))
    repo.remember(cur, "caregiver", ids)
    changed = certifications | specialties
    written_users = renamed | written  # once: a union per row made the count quadratic
    count(
        report,
        (
            (
                c.source_id in known,
                users[c.source_id] in written_users or ids[c.source_id] in changed,
            )
            for c in accepted
        ),
    )
