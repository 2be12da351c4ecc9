"""patient_personality.csv: one personality per patient_id, upserted (source 'import').

The columns and the loading are those of caregiver_personality.csv: see
`common.load_personality`.
"""

from __future__ import annotations

from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, load_personality
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "patient_personality.csv"


def load_patient_personality(
    cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState
) -> None:
    load_personality(cur, rows, report, run, entity="patient", parent_file="patients_profile.csv")
