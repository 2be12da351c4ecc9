"""Data commands: bulk import of the earlier pilot's CSV exports."""

from __future__ import annotations

import argparse
import sys

from cli.common import AddCommand, fail, load_settings

EPILOG = """\
files (any subset, loaded in this order): caregivers_profile.csv, caregiver_availability.csv,
caregiver_personality.csv, patients_profile.csv, patient_personality.csv, health_conditions.csv,
dietary_preferences.csv, matching_results.csv, reviews.csv

The whole directory is one transaction: either every file's valid rows are committed or, when
the run stops (database error, Ctrl-C), nothing is. Rejected rows (unknown label, bad date,
dangling id, wrong field count) are listed as FILE:LINE: REASON and the rest still imports.
Source ids are remembered, so running the same files again updates instead of duplicating;
rows identical to what an earlier run stored count as unchanged (nothing is written for them).
Imported guardians and caregivers get the email <role>-<source id>@import.invalid and no
password: they cannot sign in until an operator runs `manage.py set-password EMAIL`.
A new guardian is named "보호자 <source id>" and gets their first patient's care_address as
address. Each pilot request_id becomes one request marked model_version 'pilot-import' (care type
caregiver, every day, 09:00-18:00: the pilot did not export what was asked). A request holds one
selected or active matching: each further one of a pilot request is split off into a request of
its own (source id REQUEST/MATCHING), counted in the "split" column and listed as FILE:LINE.

Time limit: the import's statements run under OPERATOR_STATEMENT_TIMEOUT_MS (default 0: none),
not the API's DB_STATEMENT_TIMEOUT_MS. Progress goes to stderr (--quiet: none): a line every
50,000 rows read, each step of a large file's writing, and each file's counts.

exit status: 0 when the import ran (even with rejected rows), 1 when it could not run.
"""


def cmd_import_csv(args: argparse.Namespace) -> int:
    """Import the pilot's CSV files from DIR in one transaction; print per-file counts."""
    from shared.data_import.report import format_rejections, format_splits, format_table
    from shared.data_import.service import DataImportError, import_directory
    from shared.db import get_database
    from shared.errors import AppError

    load_settings()

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        report = import_directory(
            get_database(), args.directory, dry_run=args.dry_run, progress=progress
        )
    except DataImportError as exc:
        return fail(str(exc))
    except AppError as exc:  # the database is unreachable or busy
        return fail(exc.detail or str(exc))
    print(format_table(report))
    for name in report.ignored:
        print(f"ignored (not a pilot file): {name}")
    rejections = format_rejections(report, limit=args.max_errors)
    if rejections:
        print(f"\nrejected rows ({len(report.rejections)}):")
        print("\n".join(rejections))
    splits = format_splits(report, limit=args.max_errors)
    if splits:
        print(f"\nsplit rows ({len(report.splits)}, each in a request of its own):")
        print("\n".join(splits))
    verb = "validated (dry run, nothing written)" if report.dry_run else "imported"
    print(f"\n{verb} in {report.seconds:.2f} s")
    return 0


def register(add: AddCommand) -> None:
    sub = add("import-csv", cmd_import_csv)
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    sub.epilog = EPILOG
    sub.add_argument("directory", metavar="DIR", help="directory holding the pilot's CSV files")
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and count as a real run would, then roll everything back",
    )
    sub.add_argument(
        "--max-errors",
        type=int,
        default=50,
        metavar="N",
        help="list at most N rejected (and N split) rows (50); the counts include all of them",
    )
    sub.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr, only the summary"
    )
