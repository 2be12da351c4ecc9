"""Monthly visit record commands: write a month's records now (the monthly timer's job, for any
month: a missed 1st, or records to refresh after a bulk correction).

manage.py visit-records YYYY-MM [--batch-size N]
"""

from __future__ import annotations

import argparse
import json

from cli.common import AddCommand, fail, load_settings


def cmd_visit_records(args: argparse.Namespace) -> int:
    """Write the month's records that are absent or stale (every patient with visits in it)."""
    from shared.audit import SystemActor
    from shared.errors import ValidationFailedError
    from shared.visit_records.service import generate_month, parse_month

    try:
        month = parse_month(args.month)
    except ValidationFailedError as exc:
        return fail(f"month {args.month!r}: " + "; ".join(e.msg for e in exc.errors))
    if args.batch_size < 1:
        return fail("--batch-size must be 1 or more")
    load_settings()
    counts = generate_month(month, batch_size=args.batch_size, actor=SystemActor.operator())
    print(json.dumps({"month": month.text, **counts}))
    return 1 if counts["failed"] else 0


def register(add: AddCommand) -> None:
    parser = add("visit-records", cmd_visit_records)
    parser.add_argument("month", help="YYYY-MM (a Korean month)")
    parser.add_argument("--batch-size", type=int, default=50, help="patients per batch")
