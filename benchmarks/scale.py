"""National scale (issue 16): builds one database at the issue's size and prints one table.

How the dataset is built (`--scale` multiplies every count; 1.0 is the issue's size):

1. **Caregivers through the app's own import**: the import benchmark's generator writes the
   pilot files for 300,000 caregivers with availability and personality (about 2.2 million CSV
   rows), and `manage.py import-csv` loads them as an operator would, with default settings
   (so the request-sized DB_STATEMENT_TIMEOUT_MS is in force; OPERATOR_STATEMENT_TIMEOUT_MS is
   not set). Target: 60 s. Baseline in the same run: plain COPY of the same three files into
   untyped staging tables (what reading the rows costs this server, with no rule, key or index).
2. **Care data by SQL**: 100,000 patients (each with a guardian account), a schedule on every
   day of the year around today for each (36.5 million), and 10 million care logs (100 per
   patient on its 50 latest days up to today, two a day, with vitals), written with INSERT ...
   SELECT generate_series in one session with `session_replication_role = replica` (no
   triggers, so no change log: a backup starts from a clean slate), then VACUUM ANALYZE. The API
   has no bulk path for care data, and these rows only have to exist for the reads measured.

Then, in the same run:

3. **Care data reads through the served app** (`manage.py serve`, AI off): the guardian
   dashboard (`GET /api/users/me/dashboard`), a day's schedules (`GET /api/schedules/{today}`)
   and a month's care report (`POST /api/patients/{id}/care-reports`, monthly), each as a
   random guardian, p95 against 50 ms; baseline: `GET /health` on the same server.
4. **Backups** (benchmarks/backup_restore.py's measurement on this database): full backup vs
   `pg_dump -Fc`, restore vs `pg_restore -j 2`, an incremental after 1 % of the care logs
   changed vs the full. Targets 1.2x, 1.2x and 0.2x.
5. **Matching** at 300,000 x scale caregivers: the matching benchmark
   (`benchmarks/matching_latency.run`, its own database and served app); its rows join the
   table (p95 against 300 ms, or 50 ms up to 10,000 caregivers).

`--skip import,care,reads,backup,matching` leaves steps out (reads and backup need care).
Prints one table: figure, target, baseline, met. Exits 0 (numbers, not a test).

    .venv/bin/python benchmarks/scale.py                 # the issue's size (long)
    .venv/bin/python benchmarks/scale.py --scale 0.05    # a quick run
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOCAL_SETTINGS_PATH", os.devnull)

import psycopg2  # noqa: E402
import requests  # noqa: E402

from devtools.database import (  # noqa: E402
    create_database,
    drop_database,
    migrate,
    resolve_server_url,
    with_database,
)

CARE_TARGET_MS = 50.0
IMPORT_TARGET_S = 60.0
BACKUP_RATIO = 1.2
INCREMENTAL_RATIO = 0.2
SEOUL = "Asia/Seoul"


@dataclass
class Row:
    """One line of the final table."""

    figure: str
    value: str
    target: str
    baseline: str
    met: bool | None  # None: no target (context only)


def say(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


def manage_env(url: str, **extra: str) -> dict[str, str]:
    """A clean environment for manage.py: the development profile, this database, nothing else
    of the caller's settings (so DB_STATEMENT_TIMEOUT_MS is its default)."""
    from tests.manage_cli import manage_env as clean

    return clean(APP_ENV="development", DATABASE_URL=url, LOG_LEVEL="WARNING", **extra)


# -- 1. caregivers through import-csv ---------------------------------------------------------


def import_caregivers(url: str, caregivers: int, work: Path) -> list[Row]:
    from benchmarks.import_csv import generate

    directory = work / "csv"
    directory.mkdir()
    expected = generate(directory, caregivers, max(10, caregivers // 600), seed=16)
    rows = expected["rows"]
    say(f"generated {rows:,} CSV rows for {caregivers:,} caregivers; COPY baseline ...")
    baseline = copy_baseline(url, directory)
    say(f"COPY baseline {baseline:.1f} s; import-csv ...")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "import-csv", str(directory)],
        cwd=ROOT,
        env=manage_env(url),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        say(f"import-csv failed:\n{result.stderr[-2000:]}")
    else:
        say("import-csv per file: " + " | ".join(result.stdout.splitlines()[1:4]))
    return [
        Row(
            f"import-csv {caregivers:,} caregivers ({rows:,} rows)",
            f"{seconds:.1f} s" + ("" if result.returncode == 0 else " FAILED"),
            f"<= {IMPORT_TARGET_S:.0f} s",
            f"COPY of the files {baseline:.1f} s",
            result.returncode == 0 and seconds <= IMPORT_TARGET_S,
        )
    ]


def copy_baseline(url: str, directory: Path) -> float:
    """Seconds to COPY the three caregiver files into untyped temporary tables."""
    names = ("caregivers_profile.csv", "caregiver_availability.csv", "caregiver_personality.csv")
    conn = psycopg2.connect(url)
    try:
        started = time.perf_counter()
        with conn.cursor() as cur:
            for index, name in enumerate(names):
                path = directory / name
                header = path.open(encoding="utf-8").readline().strip().split(",")
                columns = ", ".join(f"c{i} text" for i in range(len(header)))
                cur.execute(f"CREATE TEMP TABLE staging_{index} ({columns})")
                with path.open(encoding="utf-8") as handle:
                    cur.copy_expert(
                        f"COPY staging_{index} FROM STDIN WITH (FORMAT csv, HEADER true)", handle
                    )
        elapsed = time.perf_counter() - started
        conn.rollback()
        return elapsed
    finally:
        conn.close()


# -- 2. care data -----------------------------------------------------------------------------

CARE_DATA_SQL = """
SET session_replication_role = replica;
SET synchronous_commit = off;
CREATE TEMP TABLE bench_ids AS
    SELECT i, (SELECT coalesce(max(user_id), 0) FROM users) + i AS user_id,
           (SELECT coalesce(max(guardian_id), 0) FROM guardians) + i AS guardian_id,
           (SELECT coalesce(max(patient_id), 0) FROM patients) + i AS patient_id
    FROM generate_series(1, %(patients)s) AS i;
INSERT INTO users (user_id, email, name, role)
    SELECT user_id, 'scale-guardian-' || i || '@bench.invalid', '보호자 ' || i, 'guardian'
    FROM bench_ids;
INSERT INTO guardians (guardian_id, user_id, address)
    SELECT guardian_id, user_id, '서울특별시 ' || i FROM bench_ids;
INSERT INTO patients (patient_id, guardian_id, name, birth_date, gender, care_address,
                      region_code, care_level)
    SELECT patient_id, guardian_id, '어르신 ' || i, DATE '1935-01-01' + (i %% 7000),
           (ARRAY['female', 'male'])[1 + i %% 2], '서울특별시 ' || i,
           (ARRAY['SEOUL_GANGNAM', 'SEOUL_MAPO', 'GYEONGGI_SUWON', 'BUSAN_HAEUNDAE'])[1 + i %% 4],
           (ARRAY['grade_1', 'grade_2', 'grade_3', 'grade_4'])[1 + i %% 4]
    FROM bench_ids;
-- A schedule on every day of the year: ids are first_id + patient_index * days + day_index.
CREATE TEMP TABLE bench_first AS
    SELECT (SELECT coalesce(max(schedule_id), 0) FROM schedules) + 1 AS schedule_id;
INSERT INTO schedules (schedule_id, patient_id, schedule_date, status)
    SELECT f.schedule_id + (b.i - 1) * %(days)s + d, b.patient_id,
           %(first_day)s::date + d,
           CASE WHEN %(first_day)s::date + d < %(today)s::date THEN 'completed' ELSE 'scheduled' END
    FROM bench_ids b CROSS JOIN bench_first f CROSS JOIN generate_series(0, %(days)s - 1) AS d;
-- Care logs: %(per_day)s a day on each patient's %(log_days)s latest days up to today.
INSERT INTO care_logs (schedule_id, patient_id, category, task_name, scheduled_time,
                       is_completed, completed_at, vitals)
    SELECT f.schedule_id + (b.i - 1) * %(days)s + d, b.patient_id,
           (ARRAY['medication', 'meal', 'exercise', 'vital_check', 'hygiene', 'cognitive'])
               [1 + (b.i + d + k) %% 6],
           '과제 ' || k, make_time(8 + k * 4, 0, 0), d < %(today_index)s,
           CASE WHEN d < %(today_index)s THEN now() END,
           CASE WHEN k = 0 THEN jsonb_build_object('systolic', 110 + (b.i + d) %% 40,
                                                   'pulse', 60 + (b.i + d) %% 30) END
    FROM bench_ids b CROSS JOIN bench_first f
    CROSS JOIN generate_series(%(today_index)s - %(log_days)s + 1, %(today_index)s) AS d
    CROSS JOIN generate_series(0, %(per_day)s - 1) AS k;
"""


def build_care_data(url: str, patients: int, today: date) -> dict[str, Any]:
    days, log_days, per_day = 365, 50, 2
    first_day = today - timedelta(days=300)
    params = {
        "patients": patients,
        "days": days,
        "first_day": first_day,
        "today": today,
        "today_index": (today - first_day).days,
        "log_days": log_days,
        "per_day": per_day,
    }
    started = time.perf_counter()
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(CARE_DATA_SQL, params)
            cur.execute("SELECT min(patient_id), min(user_id) FROM bench_ids")
            first_patient, first_user = cur.fetchone()  # type: ignore[misc]
            # Ids were given explicitly: move the identity sequences past them.
            for table, column in (
                ("users", "user_id"),
                ("guardians", "guardian_id"),
                ("patients", "patient_id"),
                ("schedules", "schedule_id"),
            ):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"  # noqa: S608
                    f" (SELECT max({column}) FROM {table}))"
                )
        conn.commit()
    finally:
        conn.close()
    execute(url, "VACUUM ANALYZE", autocommit=True)
    seconds = time.perf_counter() - started
    logs = patients * log_days * per_day
    say(f"care data: {patients:,} patients, {patients * days:,} schedules, {logs:,} care logs"
        f" in {seconds:.0f} s")  # fmt: skip
    return {
        "first_patient": first_patient,
        "first_user": first_user,
        "patients": patients,
        "care_logs": logs,
        "schedules": patients * days,
        "today": today,
    }


def existing_care_data(url: str, today: date) -> dict[str, Any]:
    """What build_care_data returned, read back from a kept database."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT min(p.patient_id), min(u.user_id), count(*) FROM patients p"
                " JOIN guardians g USING (guardian_id) JOIN users u USING (user_id)"
                " WHERE u.email LIKE 'scale-guardian-%%'"
            )
            first_patient, first_user, patients = cur.fetchone()  # type: ignore[misc]
            cur.execute("SELECT count(*) FROM care_logs")
            logs = cur.fetchone()[0]  # type: ignore[index]
    finally:
        conn.close()
    return {
        "first_patient": first_patient,
        "first_user": first_user,
        "patients": patients,
        "care_logs": logs,
        "schedules": patients * 365,
        "today": today,
    }


# -- 3. care data reads through the served app ------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_settings() -> dict[str, str]:
    """The app settings the Functions host resolves in binding expressions (%NAME%: timer
    schedules, queue names), from local.settings.json.example: the host refuses to index a
    function whose expression does not resolve."""
    import json

    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    return {
        name: str(value)
        for name, value in values.items()
        if name.endswith(("_SCHEDULE", "_QUEUE")) and value
    }


def serve(url: str, work: Path, storage: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = manage_env(
        url,
        **host_settings(),
        AZURE_STORAGE_CONNECTION_STRING=storage,
        AzureWebJobsStorage=storage,
        ENABLE_AI_CARE_PLAN="false",
        ENABLE_MATCHING_ALGORITHM="false",
        RATE_LIMIT_AI_PER_HOUR="100000",
    )
    log = (work / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--threads", "4"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/health", timeout=5).ok:
                return process, base
        except requests.RequestException:
            time.sleep(0.3)
    process.kill()
    tail = (work / "serve.log").read_text(errors="replace")[-3000:]
    raise SystemExit(f"manage.py serve did not start:\n{tail}")


def _read_calls(
    session: requests.Session,
    base: str,
    headers: dict[str, str],
    patient_id: int,
    month_start: date,
    today: date,
) -> dict[str, tuple[str, str, dict[str, str] | None]]:
    """name -> (method, URL, JSON body) of the measured requests and the baseline."""
    report = {
        "report_type": "monthly",
        "start_date": month_start.isoformat(),
        "end_date": today.isoformat(),
    }
    return {
        "health": ("GET", f"{base}/health", None),
        "dashboard": ("GET", f"{base}/api/users/me/dashboard", None),
        "day": ("GET", f"{base}/api/schedules/{today.isoformat()}", None),
        "report": ("POST", f"{base}/api/patients/{patient_id}/care-reports", report),
    }


def measure_reads(
    url: str, care: dict[str, Any], samples: int, work: Path, storage: str
) -> list[Row]:
    from tests.factories import token_for

    today: date = care["today"]
    month_start = today.replace(day=1)
    rng = random.Random(16)  # noqa: S311 (benchmark choices)
    process, base = serve(url, work, storage)
    session = requests.Session()
    timings: dict[str, list[float]] = {"health": [], "dashboard": [], "day": [], "report": []}
    try:
        for index in range(samples + 10):  # the first 10 warm up
            offset = rng.randrange(care["patients"])
            user_id, patient_id = care["first_user"] + offset, care["first_patient"] + offset
            headers = {"Authorization": f"Bearer {token_for(user_id, 'guardian')}"}
            calls = _read_calls(session, base, headers, patient_id, month_start, today)
            for name, (method, path, body) in calls.items():
                started = time.perf_counter()
                response = session.request(method, path, headers=headers, json=body, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code >= 400:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
                if index >= 10:
                    timings[name].append(elapsed)
    finally:
        process.terminate()
        process.wait(timeout=30)
    health = percentile(timings["health"], 0.95)
    rows = []
    for name, label in (
        ("dashboard", "guardian dashboard"),
        ("day", "a day's schedules"),
        ("report", "a month's care report"),
    ):
        p50, p95 = statistics.median(timings[name]), percentile(timings[name], 0.95)
        rows.append(
            Row(
                f"{label} p95 (p50 {p50:.1f} ms)",
                f"{p95:.1f} ms",
                f"< {CARE_TARGET_MS:.0f} ms",
                f"GET /health p95 {health:.1f} ms",
                p95 < CARE_TARGET_MS,
            )
        )
    return rows


# -- 4. backups -------------------------------------------------------------------------------


def measure_backups(
    server: str, source_name: str, care_logs: int, work: Path, storage: str
) -> list[Row]:
    from azure.storage.blob import BlobServiceClient

    from benchmarks import backup_restore

    suffix = f"{os.getpid()}_{int(time.time())}"
    names = {
        "source": source_name,
        "ours": f"scale_ours_{suffix}",
        "theirs": f"scale_theirs_{suffix}",
    }
    execute(with_database(server, source_name), "TRUNCATE ops_row_changes")
    try:
        container = BlobServiceClient.from_connection_string(storage).get_container_client("scale")
        container.create_container()
        args = argparse.Namespace(repeat=1, changed=0.01, jobs=2)
        medians, t_incr, full, _report, incremental, _dump = backup_restore.measure(
            args, server, names, work, container
        )
    finally:
        for role in ("ours", "theirs"):
            drop_database(server, names[role])
    assert full.manifest is not None
    assert incremental.manifest is not None
    backup, dump = medians["backup"], medians["dump"]
    restore, theirs = medians["restore"], medians["pg_restore"]
    changed = int(care_logs * 0.01)
    return [
        Row(
            f"full backup ({full.manifest.rows:,} rows)",
            f"{backup:.1f} s ({backup / dump:.2f}x)",
            f"<= {BACKUP_RATIO}x",
            f"pg_dump -Fc {dump:.1f} s",
            backup / dump <= BACKUP_RATIO,
        ),
        Row(
            "restore (verify, migrate, COPY)",
            f"{restore:.1f} s ({restore / theirs:.2f}x)",
            f"<= {BACKUP_RATIO}x",
            f"pg_restore -j 2 {theirs:.1f} s",
            restore / theirs <= BACKUP_RATIO,
        ),
        Row(
            f"incremental ({changed:,} care logs changed)",
            f"{t_incr:.1f} s ({t_incr / backup:.2f}x)",
            f"< {INCREMENTAL_RATIO}x full",
            f"full backup {backup:.1f} s",
            t_incr / backup < INCREMENTAL_RATIO,
        ),
    ]


# -- 5. matching ------------------------------------------------------------------------------


def measure_matching(caregivers: int) -> list[Row]:
    """scalematch's benchmark (benchmarks/matching_latency.run): its own database and served
    app; its rows as this table's."""
    from benchmarks import matching_latency

    say(f"matching benchmark at {caregivers:,} caregivers ...")
    rows = []
    for row in matching_latency.run(caregivers=caregivers, requests_count=200, progress=say):
        identical = row.name.startswith("answers identical")
        met = None
        if row.target is not None:
            met = row.figure >= row.target if identical else row.figure < row.target
        target = "" if row.target is None else f"{'>=' if identical else '<'} {row.target:g}"
        rows.append(
            Row(
                row.name,
                f"{row.figure:.1f}",  # the unit is in the name
                target,
                "" if row.baseline is None else f"reference statement {row.baseline:.1f}",
                met,
            )
        )
    return rows


# -- the run ----------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("figure", "value", "target")]
    header = ("figure", "measured", "target", "baseline (same run)", "met")
    print()
    print(f"{header[0]:{widths[0]}}  {header[1]:{widths[1]}}  {header[2]:{widths[2]}}  "
          f"{header[3]:34}  {header[4]}")  # fmt: skip
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        print(f"{r.figure:{widths[0]}}  {r.value:{widths[1]}}  {r.target:{widths[2]}}  "
              f"{r.baseline:34}  {met}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's size")
    parser.add_argument("--samples", type=int, default=200, help="timed requests per read (200)")
    parser.add_argument("--skip", default="", help="comma-separated steps to leave out")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        metavar="NAME",
        help="measure a database an earlier --keep run built (its name); builds nothing",
    )
    args = parser.parse_args()
    skip = {step.strip() for step in args.skip.split(",") if step.strip()}

    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(SEOUL)).date()
    server = resolve_server_url()
    name = args.reuse or f"neulbom_scale_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows: list[Row] = []
    from devtools.azurite import Azurite

    azurite = Azurite(work / "azurite")
    if not args.reuse:
        create_database(server, name)
    url = with_database(server, name)
    try:
        azurite.start()
        migrate(url)
        if "import" not in skip and not args.reuse:
            rows += import_caregivers(url, int(300_000 * args.scale), work)
        care = None
        if args.reuse:
            care = existing_care_data(url, today)
        elif "care" not in skip:
            care = build_care_data(url, max(100, int(100_000 * args.scale)), today)
            rows.append(
                Row(
                    "care data built by SQL",
                    f"{care['care_logs']:,} logs, {care['schedules']:,} schedules",
                    "10,000,000 / 36,500,000",
                    f"{care['patients']:,} patients",
                    None,
                )
            )
        if care and "reads" not in skip:
            rows += measure_reads(url, care, args.samples, work, azurite.connection_string)
        if care and "backup" not in skip:
            rows += measure_backups(
                server, name, care["care_logs"], work, azurite.connection_string
            )
        if "matching" not in skip:
            rows += measure_matching(max(1000, int(300_000 * args.scale)))
    finally:
        azurite.stop()
        if args.keep or args.reuse:
            say(f"kept the database {name} (--reuse {name})")
        else:
            drop_database(server, name)
        shutil.rmtree(work, ignore_errors=True)
    size = f"database {name} as built" if args.reuse else f"scale {args.scale}"
    print(f"\n{size} (scale 1.0 = 300,000 caregivers, 100,000 patients, 10M care logs)")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
