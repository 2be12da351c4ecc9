"""Import a directory of the pilot's CSV files, all or nothing.

Transactions: the whole file set is ONE transaction. Every file present is read and its header
checked first (a missing column, an unreadable file or a directory without pilot files stops the
run before the database is touched); then the files are loaded in dependency order and committed
together. Rejected rows are not errors: they are reported and the rest imports. Anything that
does stop the run (a database error, a lost connection, Ctrl-C) rolls every file back, so a
failed run leaves nothing behind, half a file least of all; running it again is always safe.
Imports are serialised by an advisory lock, since the lookup decides insert versus update.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from time import perf_counter

import psycopg2

from shared.config import get_settings
from shared.data_import import files, repository
from shared.data_import.loaders import (
    availability,
    caregiver_personality,
    caregivers,
    conditions,
    diets,
    matchings,
    patient_personality,
    patients,
    reviews,
)
from shared.data_import.loaders.common import RunState, write_audit
from shared.data_import.report import FileReport, ImportReport
from shared.db import Database

Loader = Callable[..., None]

LOADERS: dict[str, Loader] = {
    caregivers.FILE: caregivers.load_caregivers,
    availability.FILE: availability.load_availability,
    caregiver_personality.FILE: caregiver_personality.load_caregiver_personality,
    patients.FILE: patients.load_patients,
    patient_personality.FILE: patient_personality.load_patient_personality,
    conditions.FILE: conditions.load_conditions,
    diets.FILE: diets.load_diets,
    matchings.FILE: matchings.load_matchings,
    reviews.FILE: reviews.load_reviews,
}
assert tuple(LOADERS) == files.FILE_NAMES, "one loader per file, in load order"


class DataImportError(Exception):
    """The import could not run (or was rolled back); the message says why, for the operator."""


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def import_directory(
    db: Database,
    directory: Path | str,
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    today: date | None = None,
) -> ImportReport:
    """Load every pilot file in `directory` in one transaction; the per-file report.

    `dry_run` validates and writes as usual, then rolls back: the counts are what a real run
    would do. `progress` receives one-line messages while it runs. `today` bounds birth dates
    (tests pin it). Raises DataImportError when nothing could be imported.
    """
    started = perf_counter()
    say = progress or (lambda _message: None)
    directory = Path(directory)
    try:
        found, ignored = files.discover(directory)
        report = ImportReport(directory=directory, ignored=ignored, dry_run=dry_run)
        batches = []
        for spec, path in found:
            file_report = FileReport(spec.name)
            report.files.append(file_report)
            batches.append((spec, file_report, files.read_rows(spec, path, file_report, say)))
    except files.FileProblem as exc:
        raise DataImportError(str(exc)) from exc

    run = RunState(today=today or date.today(), progress=say)
    current = "(start)"
    try:
        with db.transaction() as cur:
            repository.use_operator_limits(cur, get_settings().operator_statement_timeout_ms)
            repository.lock_import(cur)
            for spec, file_report, rows in batches:
                current = spec.name
                say(f"{spec.name}: {file_report.read} rows read, writing {len(rows)}")
                file_started = perf_counter()
                LOADERS[spec.name](cur, rows, file_report, run)
                file_report.rejections.sort(key=lambda rejection: rejection.line)
                file_report.seconds = perf_counter() - file_started
                say(
                    f"{spec.name}: {file_report.imported} imported, {file_report.updated} updated,"
                    f" {file_report.unchanged} unchanged, {file_report.skipped} skipped,"
                    f" {file_report.rejected} rejected, {file_report.split} split"
                    f" ({file_report.seconds:.2f} s)"
                )
            current = "audit log"
            write_audit(cur, run, f"import-{uuid.uuid4().hex[:16]}")
            if dry_run:
                raise _DryRun
    except _DryRun:
        say("dry run: rolled back, nothing was written")
    except psycopg2.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataImportError(
            f"{current}: the database refused the import ({first_line});"
            " everything was rolled back, nothing was imported"
        ) from exc
    report.seconds = perf_counter() - started
    return report
