"""Backup commands: back up now, restore, verify, list, prune, and run a restore drill.

Exit codes: 0 done; 1 failed (the message says why); 2 usage; 3 a blob does not match its
manifest, or a manifest's signature is missing or wrong (nothing was written); 4 the restore
target is not empty (pass --replace); 75 skipped because another run holds the lock (try again
later).

Backups, restores and drills run here are audited as the operator (`actor_role` "operator",
detail `os_user`, the operating-system account): see shared.backup.export_audit.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.common import AddCommand, fail, load_settings

EXIT_INTEGRITY = 3
EXIT_NOT_EMPTY = 4
EXIT_SKIPPED = 75


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _progress(event: str, **fields: Any) -> None:
    """One line per step on stderr, so long jobs show they are alive."""
    if event == "table_done":
        print(
            f"  [{fields['index']}/{fields['total']}] {fields['table']}: {fields['mode']}, "
            f"{fields['rows']:,} rows, {_size(fields['bytes'])}",
            file=sys.stderr,
        )
    elif event == "blob_verified":
        mark = "ok" if fields["ok"] else "MISMATCH"
        print(f"  verified {fields['blob']}: {mark}", file=sys.stderr)
    elif event == "table_loaded":
        print(f"  loaded {fields['table']}: {fields['rows']:,} rows", file=sys.stderr)
    elif event in {"backup_started", "verify_started", "verify_done", "schema_ready",
                   "indexes_rebuilt", "incremental_applied", "target_cleared"}:  # fmt: skip
        details = ", ".join(f"{k}={v}" for k, v in fields.items())
        print(f"{event.replace('_', ' ')}: {details}", file=sys.stderr)


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {value!r} (e.g. 2026-11-26T09:30:00+09:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _target_url(value: str) -> str:
    """A URL, or env:NAME to read it from an environment variable (keeps passwords out of
    shell history and process listings)."""
    if value.startswith("env:"):
        url = os.environ.get(value[4:])
        if not url:
            raise SystemExit(f"error: environment variable {value[4:]} is not set")
        return url
    return value


def cmd_backup(args: argparse.Namespace) -> int:
    """Make a backup now: full (default, then pruning) or --incremental."""
    from shared.audit import SystemActor
    from shared.backup import service

    load_settings()
    run = service.incremental_backup if args.incremental else service.nightly_backup
    result = run(requested_by="cli", progress=_progress, actor=SystemActor.operator())
    if result.status == "skipped":
        print(f"skipped: {result.error}", file=sys.stderr)
        return EXIT_SKIPPED
    if result.status == "failed":
        return fail(f"backup {result.backup_id} failed: {result.error}")
    manifest = result.manifest
    assert manifest is not None
    print(
        f"{result.kind} backup {result.backup_id} succeeded: {len(manifest.tables)} tables, "
        f"{manifest.rows:,} rows, {_size(manifest.bytes)}, {result.duration_s:.1f} s "
        f"(data as of {manifest.snapshot_at.isoformat()})"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup (a full backup and its incrementals) into --target."""
    from shared.audit import SystemActor
    from shared.backup.manifest import ManifestError
    from shared.backup.restore import (
        BackupIntegrityError,
        RestoreError,
        TargetNotEmptyError,
        restore_chain,
    )
    from shared.backup.service import backup_container
    from shared.backup.signing import ManifestSignatureError
    from shared.backup.stored_backups import BackupNotFoundError, ManifestKey, resolve_chain
    from shared.errors import ConfigurationError

    load_settings()
    container = backup_container(create=False)
    try:
        key = ManifestKey.configured(trust_unsigned=args.trust_unsigned)
        chain = resolve_chain(container, args.backup, args.until, key=key)
    except ManifestSignatureError as exc:
        fail(str(exc))
        return EXIT_INTEGRITY
    except (BackupNotFoundError, ManifestError, ConfigurationError) as exc:
        return fail(str(exc))
    trusted = [m.backup_id for m in chain if m.provenance == "trusted-unsigned"]
    if trusted:
        print(f"WARNING: restoring unsigned manifests (--trust-unsigned): {', '.join(trusted)}",
              file=sys.stderr)  # fmt: skip
    print(
        f"restoring {' + '.join(m.backup_id for m in chain)} "
        f"(data as of {chain[-1].snapshot_at.isoformat()}, revision {chain[-1].alembic_revision})",
        file=sys.stderr,
    )
    try:
        report = restore_chain(
            container,
            chain,
            _target_url(args.target),
            replace=args.replace,
            progress=_progress,
            actor=SystemActor.operator(),
        )
    except BackupIntegrityError as exc:
        fail(str(exc))
        return EXIT_INTEGRITY
    except TargetNotEmptyError as exc:
        fail(f"{exc} (--replace)")
        return EXIT_NOT_EMPTY
    except (RestoreError, ManifestError) as exc:
        return fail(str(exc))
    width = max(len(t.name) for t in report.tables)
    print(f"{'table':{width}}  {'expected rows':>14}  {'restored rows':>14}")
    for table in report.tables:
        flag = "" if table.ok else "  MISMATCH"
        print(f"{table.name:{width}}  {table.expected_rows:>14,}  {table.restored_rows:>14,}{flag}")
    print(
        f"restored {report.rows:,} rows as of {report.snapshot_at.isoformat()} in "
        f"{report.total_s:.1f} s (verify {report.verify_s:.1f} s, load {report.load_s:.1f} s)"
    )
    return 0


def cmd_verify_backup(args: argparse.Namespace) -> int:
    """Check every blob a restore of BACKUP would read against the manifests, without restoring."""
    from shared.backup.manifest import ManifestError
    from shared.backup.service import backup_container
    from shared.backup.signing import ManifestSignatureError
    from shared.backup.stored_backups import BackupNotFoundError, resolve_chain
    from shared.backup.verify import verify_chain
    from shared.errors import ConfigurationError

    load_settings()
    container = backup_container(create=False)
    try:
        chain = resolve_chain(container, args.backup)
    except ManifestSignatureError as exc:
        fail(str(exc))
        return EXIT_INTEGRITY
    except (BackupNotFoundError, ManifestError, ConfigurationError) as exc:
        return fail(str(exc))
    report = verify_chain(container, chain)
    for check in report.failures:
        print(f"MISMATCH {check.describe()}")
    print(
        f"{len(report.checks)} blobs of {' + '.join(m.backup_id for m in chain)} checked, "
        f"{_size(report.bytes)}: {'all match' if report.ok else f'{len(report.failures)} differ'}"
    )
    return 0 if report.ok else EXIT_INTEGRITY


def _parse_since(value: str) -> datetime:
    """`7d`, `12h`, `30m` or `2w` ago, or an ISO 8601 date or time (UTC if no offset)."""
    match = re.fullmatch(r"(\d+)([mhdw])", value.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
        return datetime.now(UTC) - timedelta(**{unit: int(match[1])})
    try:
        return _parse_time(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"not a duration or ISO 8601 time: {value!r} (e.g. 7d, 12h, 2026-11-26)"
        ) from None


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _run_line(run: Any, indent: str = "") -> str:
    return (
        f"{indent}{run['backup_id']:32} {run['kind']:11} {run['status']:9} "
        f"{_when(run['started_at']):16} {run['rows'] or 0:>12,} {_size(run['bytes']):>9} "
        f"{run['duration_s'] or 0:>7.1f}" + (f"  error: {run['error']}" if run["error"] else "")
    )


def _print_chains(chains: list[Any]) -> None:
    print(f"{'backup id':32} {'kind':11} {'status':9} {'started (UTC)':16} {'rows':>12} "
          f"{'size':>9} {'secs':>7}")  # fmt: skip
    for chain in chains:
        print(_run_line(chain.full))
        counts = chain.by_status()
        if chain.incrementals:
            statuses = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            newest = chain.newest_success
            reach = (
                f"; restores to {_when(newest['snapshot_at'])} ({newest['backup_id']})"
                if newest is not None
                else ""
            )
            print(f"  + {len(chain.incrementals)} incrementals ({statuses}), "
                  f"{chain.rows - (chain.full['rows'] or 0):,} rows, "
                  f"{_size(chain.bytes - (chain.full['bytes'] or 0))}{reach}")  # fmt: skip
        else:
            print("  + no incrementals yet")
        for run in chain.incrementals:
            if run["status"] not in ("succeeded", "running", "queued"):
                print(_run_line(run, indent="    "))
        drill = chain.latest_drill
        if drill is not None:
            rto = f", RTO {float(drill['rto_seconds']):.1f} s" if drill["rto_seconds"] else ""
            print(f"  drill {drill['status']} {_when(drill['started_at'])}{rto}")
    print(f"{len(chains)} chains (newest full backup first)")


def cmd_list_backups(args: argparse.Namespace) -> int:
    """List complete backups in Blob (what restore can use), or --runs from the database: by
    chain (a full backup with its incrementals, newest full first), or runs of one --kind."""
    from shared.backup import service
    from shared.backup.stored_backups import list_backups

    load_settings()
    kind = args.kind
    if args.runs:
        from shared.backup import run_history
        from shared.unit_of_work import UnitOfWork

        with UnitOfWork.for_job(readonly=True) as uow:
            if kind is None:
                chains = run_history.chains(uow.cursor, limit=args.limit, since=args.since)
            else:
                runs = run_history.runs(uow.cursor, limit=args.limit, kind=kind, since=args.since)
        if kind is None:
            _print_chains(chains)
            return 0
        print(f"{'backup id':32} {'kind':11} {'status':9} {'started (UTC)':16} {'rows':>12} "
              f"{'size':>9} {'secs':>7}")  # fmt: skip
        for run in runs:
            print(_run_line(run))
        print(f"{len(runs)} {kind} runs (newest first)")
        return 0
    backups = [
        backup
        for backup in list_backups(service.backup_container(create=False))
        if (kind is None or backup.kind == kind)
        and (args.since is None or backup.snapshot_at >= args.since)
    ][-args.limit :]
    print(f"{'backup id':32} {'kind':11} {'data as of (UTC)':25} {'rows':>12} {'size':>9}  base")
    for backup in backups:
        print(
            f"{backup.backup_id:32} {backup.kind:11} "
            f"{backup.snapshot_at.strftime('%Y-%m-%d %H:%M:%S'):25} "
            f"{backup.rows or 0:>12,} {_size(backup.bytes):>9}  {backup.base_backup_id or '-'}"
        )
    print(f"{len(backups)} complete backups")
    return 0


def cmd_prune_backups(args: argparse.Namespace) -> int:
    """Delete backup chains older than BACKUP_RETENTION_DAYS (the nightly backup does this)."""
    from shared.backup.retention import plan_prune, prune_backups
    from shared.backup.service import backup_container
    from shared.backup.stored_backups import list_backups

    settings = load_settings()
    container = backup_container(create=False)
    days = args.days or settings.backup_retention_days
    if args.dry_run:
        delete, keep = plan_prune(
            list_backups(container), retention_days=days, now=datetime.now(UTC)
        )
        for backup_id in delete:
            print(f"would delete {backup_id}")
        print(f"{len(delete)} to delete, {len(keep)} to keep ({days} days)")
        return 0
    report = prune_backups(container, retention_days=days)
    for backup_id in report.deleted:
        print(f"deleted {backup_id}")
    print(
        f"{len(report.deleted)} deleted, {len(report.kept)} kept, "
        f"{len(report.orphans_deleted)} incomplete leftovers removed ({days} days)"
    )
    return 0


def cmd_restore_drill(_args: argparse.Namespace) -> int:
    """Restore the newest backup into a scratch database, verify it, drop it (the weekly drill)."""
    from shared.audit import SystemActor
    from shared.backup import service

    load_settings()
    record = service.restore_drill(progress=_progress, actor=SystemActor.operator())
    if record["status"] == "skipped":
        print("skipped: another drill is running", file=sys.stderr)
        return EXIT_SKIPPED
    print(
        f"drill {record['status']}: backup {record['backup_id']}, "
        f"{record['tables'] or 0} tables, {record['rows'] or 0:,} rows, "
        f"RTO {record['rto_seconds'] or 0:.1f} s"
    )
    for mismatch in record["mismatches"]:
        print(f"  mismatch: {mismatch}")
    if record["status"] != "succeeded":
        return fail(record["error"] or "the drill failed")
    return 0


def register(add: AddCommand) -> None:
    sub = add("backup", cmd_backup)
    sub.add_argument(
        "--incremental",
        action="store_true",
        help="only the rows changed since the previous backup (a full one if there is none)",
    )

    sub = add("restore", cmd_restore)
    sub.add_argument(
        "--backup",
        default="latest",
        metavar="latest|ID",
        help="'latest' (default) or a backup id from list-backups",
    )
    sub.add_argument(
        "--until",
        type=_parse_time,
        metavar="TIMESTAMP",
        help="stop after the last incremental at or before this ISO 8601 time (UTC if no offset)",
    )
    sub.add_argument(
        "--target",
        required=True,
        metavar="DATABASE_URL",
        help="database to restore into, or env:NAME to read the URL from variable NAME",
    )
    sub.add_argument(
        "--replace",
        action="store_true",
        help="drop and recreate the target's public schema when it is not empty",
    )
    sub.add_argument(
        "--trust-unsigned",
        action="store_true",
        help="accept manifests without a signature (written before manifests were signed); "
        "a wrong signature is always refused",
    )

    sub = add("verify-backup", cmd_verify_backup)
    sub.add_argument("backup", metavar="ID", help="backup id (or 'latest') to check")

    sub = add("list-backups", cmd_list_backups)
    sub.add_argument(
        "--limit",
        type=int,
        default=50,
        help="show at most this many backups, runs, or with --runs alone chains (50)",
    )
    sub.add_argument(
        "--runs",
        action="store_true",
        help="list backup runs from the database (status, errors, drills) instead of Blob: "
        "by chain, a full backup with its incrementals summarised, newest full first",
    )
    sub.add_argument(
        "--kind",
        choices=("full", "incremental"),
        help="only backups of this kind (with --runs: single runs instead of chains)",
    )
    sub.add_argument(
        "--since",
        type=_parse_since,
        metavar="WHEN",
        help="only what started at or after WHEN: a duration ago (7d, 12h, 30m, 2w) or an "
        "ISO 8601 date or time; with --runs a chain is shown if any member is that recent",
    )

    sub = add("prune-backups", cmd_prune_backups)
    sub.add_argument("--days", type=int, help="retention in days (BACKUP_RETENTION_DAYS)")
    sub.add_argument("--dry-run", action="store_true", help="only print what would be deleted")

    add("restore-drill", cmd_restore_drill)
