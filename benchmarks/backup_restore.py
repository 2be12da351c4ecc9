"""Backup and restore through the database connection, next to pg_dump -Fc and pg_restore.

The Functions runtime has no pg_dump, so the app backs up with COPY streams to Blob (see
shared/backup). This measures, on one generated database (`--care-logs`, default 1,000,000 care
logs plus every other table), in the same run and on the same server:

- full backup (COPY -> gzip -> Azurite) vs `pg_dump -Fc` of the same database to a file;
- restore of that backup into an empty database vs `pg_restore -j JOBS` of the dump into
  another (`--jobs`, default 2: the cores here);
  both of ours on `--connections` connections (`BACKUP_PARALLEL_CONNECTIONS`, default 2);
- an incremental backup after `--changed` (default 1 %) of the care logs were updated.

Targets (issue 16): backup and restore within 1.2x of pg_dump and `pg_restore -j 2`, the
incremental under 0.2x the full. Prints a table and the ratios; exits 0 either way (numbers,
not a test). Needs PostgreSQL client tools matching the server (found on PATH or under
/usr/lib/postgresql/*/bin) and Azurite from node_modules.

    .venv/bin/python benchmarks/backup_restore.py --care-logs 1000000
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from azure.storage.blob import BlobServiceClient, ContainerClient  # noqa: E402

from devtools.azurite import Azurite  # noqa: E402
from devtools.database import (  # noqa: E402
    create_database,
    database_name,
    drop_database,
    migrate,
    resolve_server_url,
    with_database,
)
from shared.backup.restore import RestoreReport, restore_chain  # noqa: E402
from shared.backup.stored_backups import resolve_chain  # noqa: E402
from shared.backup.writer import BackupResult, run_backup  # noqa: E402
from tests.fixtures.backup import populate  # noqa: E402

TARGET_RATIO = 1.2
INCREMENTAL_RATIO = 0.2


def find_tool(name: str) -> str:
    """The client tool `name`, from PATH or the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise SystemExit(f"{name} not found: install the PostgreSQL client tools")
    return candidates[-1]


_T = TypeVar("_T")


def timed(label: str, fn: Callable[[], _T]) -> tuple[float, _T]:
    print(f"  {label} ...", end="", flush=True, file=sys.stderr)
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    print(f" {elapsed:.2f} s", file=sys.stderr)
    return elapsed, result


def execute(url: str, *statements: str, autocommit: bool = False) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        if not autocommit:
            conn.commit()
    finally:
        conn.close()


def libpq_env(url: str) -> dict[str, str]:
    """Pass the URL's parts to the client tools through the environment, not argv."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    env = dict(os.environ)
    env.update(
        PGHOST=parts.hostname or "127.0.0.1",
        PGPORT=str(parts.port or 5432),
        PGUSER=unquote(parts.username or "postgres"),
        PGDATABASE=database_name(url),
    )
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return env


def fresh_database(server: str, name: str) -> str:
    drop_database(server, name)
    create_database(server, name)
    return with_database(server, name)


def prepare_source(source_url: str, care_logs: int) -> dict[str, int]:
    print(f"preparing {care_logs:,} care logs ...", file=sys.stderr)
    migrate(source_url)
    conn = psycopg2.connect(source_url)
    try:
        sizes = populate(conn, care_logs=care_logs)
    finally:
        conn.close()
    # The change log holds the load's inserts until a backup prunes it: start level.
    execute(source_url, "TRUNCATE ops_row_changes")
    execute(source_url, "VACUUM ANALYZE", autocommit=True)
    return sizes


def measure(
    args: argparse.Namespace,
    server: str,
    names: dict[str, str],
    work: Path,
    container: ContainerClient,
) -> tuple[dict[str, float], float, BackupResult, RestoreReport, BackupResult, int]:
    """Alternate ours and theirs `--repeat` times; median seconds of each step."""
    pg_dump, pg_restore = find_tool("pg_dump"), find_tool("pg_restore")
    source_url = with_database(server, names["source"])
    dump_file = work / "source.dump"
    times: dict[str, list[float]] = {"dump": [], "backup": [], "pg_restore": [], "restore": []}
    full: BackupResult | None = None
    report: RestoreReport | None = None
    for _ in range(args.repeat):
        elapsed, _ = timed(
            "pg_dump -Fc",
            lambda: subprocess.run(
                [pg_dump, "-Fc", "-f", str(dump_file)], env=libpq_env(source_url), check=True
            ),
        )
        times["dump"].append(elapsed)
        elapsed, backup = timed("full backup", lambda: run_backup(source_url, container))
        assert backup.status == "succeeded", backup.error
        full = backup
        times["backup"].append(elapsed)
        theirs = fresh_database(server, names["theirs"])
        elapsed, _ = timed(
            "pg_restore",
            lambda: subprocess.run(
                [
                    pg_restore,
                    "--no-owner",
                    "-j",
                    str(args.jobs),
                    "-d",
                    names["theirs"],
                    str(dump_file),
                ],
                env=libpq_env(theirs),  # noqa: B023 - called at once
                check=True,
            ),
        )
        times["pg_restore"].append(elapsed)
        ours = fresh_database(server, names["ours"])
        chain = resolve_chain(container)
        elapsed, restored = timed(
            "restore",
            lambda: restore_chain(container, chain, ours),  # noqa: B023 - called at once
        )
        assert all(table.ok for table in restored.tables)
        report = restored
        times["restore"].append(elapsed)
    step = max(1, round(1 / args.changed))
    execute(
        source_url,
        f"UPDATE care_logs SET note = 'changed for the benchmark' WHERE care_log_id % {step} = 0",  # noqa: S608
    )
    elapsed, incremental = timed(
        "incremental backup", lambda: run_backup(source_url, container, kind="incremental")
    )
    assert incremental.kind == "incremental", incremental.error
    assert full is not None, "--repeat must be at least 1"
    assert report is not None
    medians = {key: statistics.median(values) for key, values in times.items()}
    return medians, elapsed, full, report, incremental, dump_file.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--care-logs", type=int, default=1_000_000, help="care logs (1000000)")
    parser.add_argument(
        "--changed", type=float, default=0.01, help="fraction of care logs updated (0.01)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="pg_restore -j (2)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate each pair this often; medians (1)"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=2,
        help="BACKUP_PARALLEL_CONNECTIONS of our backup and restore (2)",
    )
    args = parser.parse_args()
    os.environ["BACKUP_PARALLEL_CONNECTIONS"] = str(args.connections)
    load_before = os.getloadavg()[0]

    server = resolve_server_url()
    suffix = f"{os.getpid()}_{int(time.time())}"
    names = {role: f"bench_{role}_{suffix}" for role in ("source", "ours", "theirs")}
    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    azurite = Azurite(work / "azurite")
    try:
        azurite.start()
        container = BlobServiceClient.from_connection_string(
            azurite.connection_string
        ).get_container_client("bench")
        container.create_container()
        sizes = prepare_source(fresh_database(server, names["source"]), args.care_logs)
        medians, t_incr, full, report, incremental, dump_bytes = measure(
            args, server, names, work, container
        )
    finally:
        azurite.stop()
        for name in names.values():
            drop_database(server, name)
        shutil.rmtree(work, ignore_errors=True)

    changed = int(args.care_logs * args.changed)
    assert full.manifest is not None
    assert incremental.manifest is not None
    print()
    print(f"database: {sizes['care_logs']:,} care logs, {full.manifest.rows:,} rows in total")
    print(f"median of {args.repeat} run(s) each; ours on {args.connections} connection(s)")
    print(
        f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"on {os.cpu_count()} cores (other work shares them)"
    )
    print(f"{'step':36} {'seconds':>9} {'size':>11}")
    print(f"{'pg_dump -Fc':36} {medians['dump']:9.2f} {dump_bytes / 2**20:8.1f} MB")
    print(
        f"{'full backup (COPY -> gzip -> Blob)':36} {medians['backup']:9.2f} "
        f"{full.manifest.bytes / 2**20:8.1f} MB"
    )
    print(f"{f'pg_restore -j {args.jobs}':36} {medians['pg_restore']:9.2f}")
    print(f"{'restore (verify, migrate, COPY)':36} {medians['restore']:9.2f}")
    label = f"incremental ({changed:,} care logs changed)"
    print(f"{label:38} {t_incr:7.2f} {incremental.manifest.bytes / 2**20:8.1f} MB")
    print()
    for name, ours_s, theirs_s in (
        ("backup / pg_dump", medians["backup"], medians["dump"]),
        (f"restore / pg_restore -j {args.jobs}", medians["restore"], medians["pg_restore"]),
    ):
        ratio = ours_s / theirs_s
        verdict = "within" if ratio <= TARGET_RATIO else "OVER"
        print(f"{name:24} {ratio:5.2f}x  ({verdict} the {TARGET_RATIO}x target)")
    ratio = t_incr / medians["backup"]
    verdict = "within" if ratio < INCREMENTAL_RATIO else "OVER"
    print(f"{'incremental / full':24} {ratio:5.2f}x  ({verdict} the {INCREMENTAL_RATIO}x target)")
    print(
        f"last restore: verify {report.verify_s:.2f} s, load {report.load_s:.2f} s, "
        f"the rest is the schema migration"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
