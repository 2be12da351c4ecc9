"""Overlapping requests: throughput of 1 client against 8 concurrent clients on the served app.

The served app (`manage.py serve`, the same process model and thread count as `make run`) runs
on a throwaway database migrated to head with the demo data (`seed-demo`). Signed in as the demo
guardian, each client cycles over four routes on keep-alive HTTP/1.1 connections (loopback only):

    GET   /api/patients/{id}          (read)
    GET   /api/patients               (read)
    GET   /api/schedules/{date}       (read)
    PATCH /api/patients/{id}          (write: weight_kg, each client on its own demo patient
                                       where there are enough, so writes rarely wait on a lock)

Both runs make the same fixed number of requests (`--requests`, default 2000, after a warm-up
of 40 per client); with 8 clients each makes an eighth. Prints the throughput of each run, the
ratio 8 clients / 1 client (target >= 1.5x) and the reads' p50/p95 at 8 clients (target p95 <
25 ms), each beside its target; exits 1 when a target is missed.

Where the time goes, for each run: CPU milliseconds per request of the served app's process
and of the PostgreSQL backends serving it (read from /proc, when the server is on this machine),
and PostgreSQL transactions per request (`pg_stat_database`). `--profile FILE` also
records the served app with py-spy (a dev dependency) during the concurrent run, as collapsed
stacks (`--gil`: only the thread holding the GIL, i.e. Python's own CPU).

Usage: python benchmarks/concurrency.py [--requests 2000] [--clients 8] [--threads 8]
                                        [--profile FILE [--gil]]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import psycopg2

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from devtools.database import (  # noqa: E402
    create_database,
    drop_database,
    migrate,
    resolve_server_url,
    with_database,
)

DEMO_EMAIL = "guardian@demo.neulbomcare.kr"
DEMO_PASSWORD = "demo-password-1234"  # noqa: S105 (the local demo account's)
WARM_UP = 40
TARGET_RATIO = 1.5
TARGET_READ_P95_MS = 25.0


@dataclass
class Samples:
    reads: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)


class Client:
    """One keep-alive connection, signed in as the demo guardian."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else None
        self.connection.request(method, path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"{method} {path} answered {response.status}: {data[:300]!r}")

    def close(self) -> None:
        self.connection.close()


def run_client(
    port: int, token: str, patient_id: int, count: int, day: str, samples: Samples, start: float
) -> None:
    client = Client(port, token)
    steps = [
        ("GET", f"/api/patients/{patient_id}", None),
        ("GET", "/api/patients", None),
        ("GET", f"/api/schedules/{day}", None),
        ("PATCH", f"/api/patients/{patient_id}", "write"),
    ]
    try:
        while time.perf_counter() < start:  # every client begins at the same moment
            time.sleep(0.0005)
        for index in range(count):
            method, path, kind = steps[index % len(steps)]
            body = {"weight_kg": 50 + index % 20} if kind == "write" else None
            began = time.perf_counter()
            client.call(method, path, body)
            elapsed = (time.perf_counter() - began) * 1000
            (samples.writes if kind == "write" else samples.reads).append(elapsed)
    finally:
        client.close()


def measure(
    port: int, token: str, patients: list[int], clients: int, total: int, day: str, probe: Probe
) -> tuple[float, Samples, Usage]:
    """Requests per second of `clients` concurrent clients making `total` requests in all, and
    what they cost the served app and PostgreSQL (warm-up excluded)."""
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    run_clients(port, token, patients, [WARM_UP] * clients, day, Samples(), 0.0)
    time.sleep(STATS_FLUSH_SECONDS)  # the warm-up's transactions reach pg_stat_database
    before = probe.read()
    samples = Samples()
    start = time.perf_counter() + 0.2
    with probe.profiling():
        run_clients(port, token, patients, per_client, day, samples, start)
        elapsed = time.perf_counter() - start
    done = len(samples.reads) + len(samples.writes)
    if done != total:
        raise SystemExit(f"{clients} clients finished {done} of {total} requests")
    time.sleep(STATS_FLUSH_SECONDS)
    return total / elapsed, samples, probe.read().minus(before, total)


def run_clients(
    port: int,
    token: str,
    patients: list[int],
    counts: list[int],
    day: str,
    samples: Samples,
    start: float,
) -> None:
    threads = [
        threading.Thread(
            target=run_client,
            args=(port, token, patients[i % len(patients)], count, day, samples, start),
        )
        for i, count in enumerate(counts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# -- where the time goes ---------------------------------------------------------------------

#: PostgreSQL backends report their counters to pg_stat_database at most once a second.
STATS_FLUSH_SECONDS = 1.5
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Usage:
    """CPU seconds of the app's processes and of its PostgreSQL backends (None where /proc
    does not show them), and PostgreSQL transactions (commits and rollbacks)."""

    app_cpu: float | None
    db_cpu: float | None
    transactions: int

    def minus(self, before: Usage, requests: int) -> Usage:
        """Per request, from two readings."""

        def per(now: float | None, then: float | None) -> float | None:
            return None if now is None or then is None else (now - then) / requests

        return Usage(
            per(self.app_cpu, before.app_cpu),
            per(self.db_cpu, before.db_cpu),
            # each reading is one transaction of the probe's own
            round((self.transactions - before.transactions - 1) / requests, 2),  # type: ignore[arg-type]
        )


class Probe:
    """Reads the served app's and its database backends' CPU time from /proc and the
    database's transaction count; optionally records the app with py-spy."""

    def __init__(self, app_pid: int, database_url: str, profile: Path | None, gil: bool):
        self.app_pid = app_pid
        self.database_url = database_url
        self.profile = profile
        self.gil = gil

    def read(self) -> Usage:
        with psycopg2.connect(self.database_url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'neulbomcare'"
            )
            backends = [int(row[0]) for row in cur.fetchall()]
            cur.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
            row = cur.fetchone()
            transactions = int(row[0]) if row else 0
        conn.close()
        db = [_cpu_seconds(pid) for pid in backends]
        db_cpu = None if not db or None in db else sum(x for x in db if x is not None)
        app = [_cpu_seconds(pid) for pid in _process_tree(self.app_pid)]
        app_cpu = None if None in app else sum(x for x in app if x is not None)
        return Usage(app_cpu, db_cpu, transactions)

    @contextmanager
    def profiling(self) -> Iterator[None]:
        if self.profile is None:
            yield
            return
        py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
            "py-spy"
        )
        if py_spy is None:
            raise SystemExit("--profile needs py-spy (pip install -r requirements-dev.txt)")
        command = [py_spy, "record", "-p", str(self.app_pid), "--subprocesses", "-r", "250"]
        command += ["-f", "raw", "-o", str(self.profile), "--nonblocking"]
        command += ["--gil"] if self.gil else []
        recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # py-spy attaches
        try:
            yield
        finally:
            recorder.send_signal(signal.SIGINT)
            _, errors = recorder.communicate(timeout=30)
            print(errors.decode(errors="replace").strip(), file=sys.stderr)


def _cpu_seconds(pid: int) -> float | None:
    """user + system CPU seconds of one process, or None when /proc does not show it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _process_tree(pid: int) -> list[int]:
    """The process and its descendants (worker processes, if any)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = Path(f"/proc/{current}/task").iterdir()
            for task in tasks:
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except OSError:
            continue
    return found


def seed(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "SEED_DEMO_PASSWORD": DEMO_PASSWORD}
    subprocess.run(
        [sys.executable, "manage.py", "seed-demo"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def serve(env: dict[str, str], port: int, threads: int, log_path: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--threads", str(threads)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"manage.py serve did not start; see {log_path}")


def sign_in(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    connection.request(
        "POST", "/api/auth/login", body=body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    data = json.loads(response.read())
    connection.close()
    if response.status != 200:
        raise SystemExit(f"sign-in answered {response.status}: {data}")
    return str(data["access_token"])


def patient_ids(port: int, token: str) -> list[int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/api/patients", headers={"Authorization": f"Bearer {token}"})
    data = json.loads(connection.getresponse().read())
    connection.close()
    ids = [int(item["patient_id"]) for item in data["items"]]
    if not ids:
        raise SystemExit("the demo guardian has no patients")
    return ids


def _ms(seconds: float | None) -> str:
    return "   n/a" if seconds is None else f"{seconds * 1000:4.2f} ms"


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per run (2000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--threads", type=int, default=8, help="server threads (8, as make run)")
    parser.add_argument(
        "--profile", type=Path, help="record the app with py-spy during the concurrent run"
    )
    parser.add_argument("--gil", action="store_true", help="profile only the GIL's holder")
    args = parser.parse_args()

    server_url = resolve_server_url()
    name = f"neulbom_bench_concurrency_{os.getpid()}"
    create_database(server_url, name)
    work = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    app = None
    try:
        database_url = with_database(server_url, name)
        migrate(database_url)
        seed(database_url)
        # As `func start` with the example's local settings (the host resolves %SETTING%
        # references in trigger declarations from them), the shell's environment over them.
        example = json.loads((REPO_ROOT / "local.settings.json.example").read_text())["Values"]
        env = {
            **{k: str(v) for k, v in example.items()},
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "APP_ENV": "development",
            "LOG_LEVEL": "WARNING",
            "LOCAL_SETTINGS_PATH": os.devnull,
            "DATABASE_URL": database_url,
        }
        port = 7800 + os.getpid() % 500
        app = serve(env, port, args.threads, work / "serve.log")
        token = sign_in(port)
        patients = patient_ids(port, token)
        day = date.today().isoformat()
        quiet = Probe(app.pid, database_url, None, gil=False)
        profiled = Probe(app.pid, database_url, args.profile, gil=args.gil)
        one_rate, one, one_usage = measure(port, token, patients, 1, args.requests, day, quiet)
        many_rate, many, many_usage = measure(
            port, token, patients, args.clients, args.requests, day, profiled
        )
    finally:
        if app is not None:
            app.terminate()
            try:
                app.wait(timeout=10)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        drop_database(server_url, name)

    ratio = many_rate / one_rate
    read_p95 = pct(many.reads, 95)
    ratio_ok = ratio >= TARGET_RATIO
    p95_ok = read_p95 < TARGET_READ_P95_MS
    print(f"\n{args.requests} requests per run over 4 routes (3 reads, 1 PATCH), loopback")
    runs = (
        ("1 client ", one_rate, one, one_usage),
        (f"{args.clients} clients", many_rate, many, many_usage),
    )
    for label, rate, samples, _ in runs:
        print(
            f"  {label}  {rate:7.0f} req/s   reads p50 {pct(samples.reads, 50):6.1f} ms"
            f" p95 {pct(samples.reads, 95):6.1f} ms   writes p50 {pct(samples.writes, 50):6.1f} ms"
            f" p95 {pct(samples.writes, 95):6.1f} ms"
        )
    print("  per request:")
    for label, _, _, usage in runs:
        print(
            f"  {label}  app CPU {_ms(usage.app_cpu)}   PostgreSQL CPU {_ms(usage.db_cpu)}"
            f"   transactions {usage.transactions:.2f}"
        )
    print(
        f"  ratio {args.clients}/1          {ratio:5.2f}x    (target >= {TARGET_RATIO}x:"
        f" {'met' if ratio_ok else 'MISSED'})"
    )
    print(
        f"  read p95 at {args.clients} clients {read_p95:6.1f} ms"
        f" (target < {TARGET_READ_P95_MS:.0f} ms: {'met' if p95_ok else 'MISSED'})"
    )
    return 0 if ratio_ok and p95_ok else 1


if __name__ == "__main__":
    sys.exit(main())
