"""caregiver_personality.csv: one personality per caregiver_id, upserted (source 'import').

The columns and the loading are those of patient_personality.csv: see
`common.load_personality`.
"""

from __future__ import annotations

from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, load_personality
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "caregiver_personality.csv"


def load_caregiver_personality(
    cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState
) -> None:
    load_personality(
        cur, rows, report, run, entity="caregiver", parent_file="caregivers_profile.csv"
    )
