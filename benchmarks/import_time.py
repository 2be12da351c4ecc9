"""Cold import time of the Function App against `import azure.functions` alone.

The Functions host gives a worker about 10 s to start and index functions, and every cold start
pays for `import function_app`. The design promises that the import is cheap and touches nothing
outside the process: no database, no Key Vault, no Blob, no model download. This script measures
the first and proves the second.

Each run is a fresh interpreter (a subprocess), so nothing is already in `sys.modules`. Inside it
the import alone is timed with perf_counter (interpreter start-up is excluded; it is the same for
both), and before importing, `socket.socket.connect`/`connect_ex` are wrapped to record every
connection attempt. libpq (psycopg2) does not use Python sockets, so socket file descriptors left
open after the import are counted too (Linux, /proc/self/fd).

One untimed warm-up run per target fills __pycache__ first, so the numbers are cold-process, warm
disk: what a restarted worker on an already deployed app sees.

The deployment package holds requirements.txt only. Packages that only the development tools bring
into this virtualenv, and that a runtime package would import when present, are hidden from the
child interpreter (`DEV_ONLY`: structlog imports `rich` for pretty tracebacks when it is
installed; here only schemathesis and pip-audit install it), so the figure is the deployed app's.

Usage: python benchmarks/import_time.py [--runs 7] [--budget 0.5]
Exit status 1 if importing the app attempted any connection.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE = "azure.functions"
APP = "function_app"

#: Installed here only by development tools (not in requirements.txt's closure), yet imported by
#: a runtime package when present: hidden from the measured import, as in the deployed package.
DEV_ONLY = ("rich",)

# Runs in the child interpreter: argv[1] is the module to import, argv[2] the packages to hide.
# Prints one JSON line.
CHILD = r"""
import importlib, json, os, socket, sys, time

for hidden in sys.argv[2].split(","):
    if hidden:
        sys.modules[hidden] = None  # `import hidden` raises ImportError, as where it is absent

attempts = []
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex

def connect(self, address, *args):
    attempts.append(repr(address))
    return _connect(self, address, *args)

def connect_ex(self, address, *args):
    attempts.append(repr(address))
    return _connect_ex(self, address, *args)

socket.socket.connect, socket.socket.connect_ex = connect, connect_ex

def open_sockets():
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count

sockets_before = open_sockets()
started = time.perf_counter()
importlib.import_module(sys.argv[1])
elapsed = time.perf_counter() - started
sockets_after = open_sockets()
print(json.dumps({
    "seconds": elapsed,
    "attempts": attempts,
    "new_sockets": None if sockets_before is None else sockets_after - sockets_before,
    "modules": len(sys.modules),
}))
"""


@dataclass
class Sample:
    seconds: float
    attempts: list[str]
    new_sockets: int | None
    modules: int


def measure_once(module: str, python: str) -> Sample:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run(
        [python, "-c", CHILD, module, ",".join(DEV_ONLY)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{completed.stderr.strip()}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return Sample(data["seconds"], data["attempts"], data["new_sockets"], data["modules"])


def measure(module: str, runs: int, python: str) -> list[Sample]:
    measure_once(module, python)  # warm-up: compile to __pycache__, fill the OS file cache
    return [measure_once(module, python) for _ in range(runs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time `import function_app` against `import azure.functions` in fresh "
        "interpreters, and check that importing the app opens no network connection.",
    )
    parser.add_argument("--runs", type=int, default=7, help="timed runs per target (default: 7)")
    parser.add_argument(
        "--budget",
        type=float,
        default=0.5,
        help="seconds the app's median import must stay under (default: 0.5)",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter to run (default: this one)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    results = {name: measure(name, args.runs, args.python) for name in (BASELINE, APP)}
    medians = {
        name: statistics.median(s.seconds for s in samples) for name, samples in results.items()
    }

    print(f"Cold import, {args.runs} fresh interpreters per target (+1 warm-up), {args.python}")
    print()
    print(f"{'target':<22} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'modules':>8}")
    print(f"{'-' * 22} {'-' * 10} {'-' * 8} {'-' * 8} {'-' * 8}")
    for name, samples in results.items():
        times = [s.seconds * 1000 for s in samples]
        print(
            f"{'import ' + name:<22} {medians[name] * 1000:>10.1f} {min(times):>8.1f} "
            f"{max(times):>8.1f} {samples[0].modules:>8}"
        )
    print()

    ratio = medians[APP] / medians[BASELINE]
    app_only = (medians[APP] - medians[BASELINE]) * 1000
    print(f"ratio app/baseline (median): {ratio:.2f}x  (the app's own share: {app_only:+.1f} ms)")
    under = medians[APP] < args.budget
    verdict = "yes" if under else "NO"
    print(f"app median under {args.budget:g} s: {verdict} ({medians[APP]:.3f} s)")

    app_samples = results[APP]
    attempts = sorted({a for s in app_samples for a in s.attempts})
    attempt_count = sum(len(s.attempts) for s in app_samples)
    socket_counts = [s.new_sockets for s in app_samples if s.new_sockets is not None]
    leftover = max(socket_counts) if socket_counts else None
    print(
        f"network connections while importing {APP}: {attempt_count} attempts "
        f"over {len(app_samples)} runs" + (f" -> {', '.join(attempts)}" if attempts else "")
    )
    print(
        "sockets left open after the import: "
        + ("not measurable here (no /proc)" if leftover is None else str(leftover))
    )
    if attempt_count or leftover:
        print(f"FAIL: importing {APP} must not connect to anything")
        return 1
    print(f"OK: importing {APP} opened no connection")
    return 0


if __name__ == "__main__":
    sys.exit(main())
