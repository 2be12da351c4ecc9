"""health_conditions.csv: the condition set of the patients.

The conditions of each patient with at least one accepted row become exactly that patient's
accepted rows (a note is updated in place); a patient whose rows were all rejected keeps the
conditions they had.
"""

from __future__ import annotations

from dataclasses import dataclass

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared.data_import import labels
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, count, first_only, parse_rows, resolved
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "health_conditions.csv"


@dataclass(frozen=True)
class ConditionRow:
    patient_id: str
    code: str
    note: str | None


def parse_condition(row: CsvRow) -> ConditionRow:
    return ConditionRow(
        patient_id=p.source_id(row["patient_id"], "patient_id"),
        code=labels.condition(row["disease_name"]),
        note=p.text(row["note"], "note", required=False, max_length=500),
    )


def load_conditions(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = first_only(
        parse_rows(rows, report, parse_condition),
        report,
        key=lambda item: (item.patient_id, item.code),
        what=lambda item: f"condition {item.code} of patient_id {item.patient_id!r}",
    )
    known = repo.resolve(cur, "patient", (item.patient_id for _, item in parsed))
    kept = resolved(
        parsed, report, known, lambda i: i.patient_id, "patient_id", "patients_profile.csv"
    )
    owners = list(dict.fromkeys(target for _, _, target in kept))
    existing = repo.existing_conditions(cur, owners)
    written = repo.replace_conditions(
        cur, owners, [(target, item.code, item.note) for _, item, target in kept]
    )
    count(
        report,
        (
            ((target, item.code) in existing, (target, item.code) in written)
            for _, item, target in kept
        ),
    )
    for target in owners:
        run.touch(target, report.file)
