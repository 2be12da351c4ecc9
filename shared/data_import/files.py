"""The pilot's CSV files: names, required columns, load order, and reading them with line numbers.

Every file is read completely (and its header checked) before anything is written, so a wrong
header or an unreadable file stops the run before the database is touched. A row with the wrong
number of fields is not fatal: it is rejected with its line number and the rest goes on.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shared.data_import.report import FileReport


class FileProblem(Exception):
    """A file cannot be used at all (unreadable, not UTF-8, header without a needed column)."""


@dataclass(frozen=True)
class FileSpec:
    name: str
    columns: tuple[str, ...]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 4x, per CSV record
class CsvRow:
    """One record: the line it starts on (1 is the header) and its values by column name."""

    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values[column]


_PERSONALITY = ("empathy_score", "activity_score", "patience_score", "independence_score")

#: Every file the pilot exported, in dependency order (parents before what refers to them).
FILE_SPECS: tuple[FileSpec, ...] = (
    FileSpec(
        "caregivers_profile.csv",
        (
            "caregiver_id",
            "name",
            "gender",
            "birth_date",
            "experience_years",
            "certifications",
            "specialties",
            "service_region",
            "has_vehicle",
            "hourly_rate",
        ),
    ),
    FileSpec(
        "caregiver_availability.csv",
        ("caregiver_id", "day_of_week", "start_time", "end_time", "is_available"),
    ),
    FileSpec("caregiver_personality.csv", ("caregiver_id", *_PERSONALITY)),
    FileSpec(
        "patients_profile.csv",
        (
            "patient_id",
            "guardian_id",
            "name",
            "birth_date",
            "gender",
            "height",
            "weight",
            "care_level",
            "care_address",
            "region_code",
        ),
    ),
    FileSpec("patient_personality.csv", ("patient_id", *_PERSONALITY)),
    FileSpec("health_conditions.csv", ("patient_id", "disease_name", "note")),
    FileSpec("dietary_preferences.csv", ("patient_id", "allergy_foods", "restriction_foods")),
    FileSpec(
        "matching_results.csv",
        (
            "matching_id",
            "request_id",
            "patient_id",
            "caregiver_id",
            "personality_score",
            "specialty_score",
            "region_score",
            "total_score",
            "grade",
            "status",
            "ai_comment",
            "contract_start_date",
            "contract_end_date",
            "created_at",
        ),
    ),
    FileSpec(
        "reviews.csv",
        (
            "review_id",
            "matching_id",
            "reviewer_id",
            "reviewer_type",
            "rating",
            "comment",
            "created_at",
        ),
    ),
)

FILE_NAMES: tuple[str, ...] = tuple(spec.name for spec in FILE_SPECS)
#: A "rows read" progress line every this many rows of a file (a national import reads millions).
PROGRESS_EVERY = 50_000


def discover(directory: Path) -> tuple[list[tuple[FileSpec, Path]], list[str]]:
    """The known files present in `directory` in load order, and the other .csv files there."""
    if not directory.is_dir():
        raise FileProblem(f"{directory} is not a directory")
    present = [(spec, directory / spec.name) for spec in FILE_SPECS]
    found = [(spec, path) for spec, path in present if path.is_file()]
    ignored = sorted(
        path.name
        for path in directory.iterdir()
        if path.suffix.lower() == ".csv" and path.name not in FILE_NAMES
    )
    if not found:
        raise FileProblem(f"{directory} holds none of the pilot files ({', '.join(FILE_NAMES)})")
    return found, ignored


def read_rows(
    spec: FileSpec,
    path: Path,
    report: FileReport,
    progress: Callable[[str], None] | None = None,
) -> list[CsvRow]:
    """Every record of `path` with its starting line; wrong-width rows go to report.rejections.

    Header names are matched after stripping spaces, in any case; extra columns are ignored.
    Blank lines are not rows. `report.read` counts every other record.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _read(spec, handle, report, progress)
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"{spec.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except csv.Error as exc:
        raise FileProblem(f"{spec.name}: unreadable CSV ({exc})") from exc
    except OSError as exc:
        raise FileProblem(f"{spec.name}: cannot be read ({exc.strerror or exc})") from exc


def _read(
    spec: FileSpec,
    handle: Iterable[str],
    report: FileReport,
    progress: Callable[[str], None] | None,
) -> list[CsvRow]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise FileProblem(f"{spec.name}: the file is empty (no header line)")
    names = [name.strip().lower() for name in header]
    missing = [column for column in spec.columns if column not in names]
    if missing:
        raise FileProblem(f"{spec.name}: header lacks column(s) {', '.join(missing)}")
    positions = {column: names.index(column) for column in spec.columns}
    rows: list[CsvRow] = []
    next_line = reader.line_num + 1
    for record in reader:
        line, next_line = next_line, reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        report.read += 1
        if len(record) != len(header):
            report.reject(line, f"expected {len(header)} fields, found {len(record)}")
        else:
            rows.append(CsvRow(line, {c: record[i] for c, i in positions.items()}))
        if progress and report.read % PROGRESS_EVERY == 0:
            progress(f"{spec.name}: {report.read} rows read")
    return rows
