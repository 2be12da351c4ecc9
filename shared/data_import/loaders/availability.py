"""caregiver_availability.csv: the weekly slots of the caregivers.

The slots of each caregiver with at least one accepted row become exactly that caregiver's
available rows (is_available False rows are not stored and count as skipped; a caregiver whose
rows are all False ends up with no slot). A caregiver whose rows were all rejected keeps the
slots they had.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from functools import lru_cache

import shared.data_import.parsers as p
import shared.data_import.repository as repo
from shared.data_import import labels
from shared.data_import.files import CsvRow
from shared.data_import.loaders.common import RunState, count, parse_rows, resolved
from shared.data_import.parsers import RowError
from shared.data_import.report import FileReport
from shared.db import Cursor

FILE = "caregiver_availability.csv"


@dataclass(slots=True)  # not frozen: built once per row of a file of millions
class AvailabilityRow:
    caregiver_id: str
    day: str
    start: time
    end: time
    available: bool


def parse_availability(row: CsvRow) -> AvailabilityRow:
    caregiver_id = p.source_id(row["caregiver_id"], "caregiver_id")
    return AvailabilityRow(
        caregiver_id,
        *_slot(row["day_of_week"], row["start_time"], row["end_time"], row["is_available"]),
    )


@lru_cache(maxsize=65_536)
def _slot(day: str, start: str, end: str, available: str) -> tuple[str, time, time, bool]:
    """The checked slot fields, parsed once per distinct combination: a national file holds
    millions of rows but a few hundred different (day, start, end, available) cells. A bad one
    raises RowError every time (exceptions are not cached)."""
    slot = (
        labels.day(day),
        p.time_value(start, "start_time"),
        p.time_value(end, "end_time"),
        p.boolean(available, "is_available"),
    )
    if slot[1] >= slot[2]:
        raise RowError(f"start_time {slot[1]:%H:%M} is not before end_time {slot[2]:%H:%M}")
    return slot


def load_availability(cur: Cursor, rows: list[CsvRow], report: FileReport, run: RunState) -> None:
    parsed = parse_rows(rows, report, parse_availability)
    known = repo.resolve(cur, "caregiver", (s.caregiver_id for _, s in parsed))
    kept = resolved(
        parsed, report, known, lambda s: s.caregiver_id, "caregiver_id", "caregivers_profile.csv"
    )
    seen: dict[tuple[int, str, time], int] = {}
    owners: dict[int, None] = {}
    slots: list[tuple[int, str, time, time]] = []
    for row, slot, caregiver_id in kept:
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
    run.step(FILE, "slots checked", len(slots))
    existing = repo.existing_slots(cur, owners)
    starts = {slot[:3] for slot in existing}
    # Only caregivers that have slots can lose some: the DELETE skips the (many) new ones.
    repo.replace_availability(
        cur, list({slot[0]: None for slot in existing}), slots, run.fresh_caregivers
    )
    # A slot is keyed by its start (caregiver, day, start): a new end time is an update.
    count(report, ((slot[:3] in starts, slot not in existing) for slot in slots))
