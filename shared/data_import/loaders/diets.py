"""dietary_preferences.csv: one diet (type and allergens) per patient_id, upserted."""

from __future__ import annotations

from dataclasses import dataclass

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared.data_import import labels
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, count, first_only, parse_rows, resolved
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "dietary_preferences.csv"


@dataclass(frozen=True)
class DietRow:
    patient_id: str
    allergens: list[str]
    diet_type: str


def parse_diet(row: CsvRow) -> DietRow:
    return DietRow(
        patient_id=p.source_id(row["patient_id"], "patient_id"),
        allergens=labels.allergens(row["allergy_foods"]),
        diet_type=labels.diet_type(row["restriction_foods"]),
    )


def load_diets(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = first_only(
        parse_rows(rows, report, parse_diet),
        report,
        key=lambda item: item.patient_id,
        what=lambda item: f"patient_id {item.patient_id!r}",
    )
    known = repo.resolve(cur, "patient", (item.patient_id for _, item in parsed))
    kept = resolved(
        parsed, report, known, lambda i: i.patient_id, "patient_id", "patients_profile.csv"
    )
    existing = repo.existing_diets(cur, (target for _, _, target in kept))
    written = repo.upsert_diets(
        cur, [(target, item.diet_type, item.allergens) for _, item, target in kept]
    )
    count(report, ((target in existing, target in written) for _, _, target in kept))
    for _, _, target in kept:
        run.touch(target, report.file)
