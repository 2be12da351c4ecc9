"""Run Azurite's Blob and Queue services as a child process, for `make run` and the tests.

Azurite comes from npm (package.json pins 3.35.0, the last release that runs on Node 20). It is
started as `node node_modules/.bin/azurite ...` rather than through the shell shim so that the PID
we hold is the server's own: terminating it really stops the server and lets it flush its
metadata, which the backup tests rely on when they stop and restart it on the same data. The one
process serves Blob (the app's storage) and Queue (queue triggers); it also serves Table, which
nothing uses, on a port of its own.

    python -m devtools.azurite --port 10000 --queue-port 10001 --location .local/azurite
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO_ROOT = Path(__file__).resolve().parent.parent

# The emulator's fixed development account, published in Azurite's README. Not a secret.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

LOG_FILE_NAME = "azurite.log"
_POLL_SECONDS = 0.1


class AzuriteError(RuntimeError):
    """Azurite could not be started; the message says why and what to do."""


class Azurite:
    """One Azurite server (Blob and Queue) on a fixed data directory and ports.

    The ports are chosen once (free ones when 0) and kept, so `start()` after `stop()` serves the
    same data at the same endpoints, as a restarted storage account would.
    """

    def __init__(
        self,
        data_dir: str | Path,
        host: str = "127.0.0.1",
        blob_port: int = 0,
        *,
        queue_port: int = 0,
        table_port: int = 0,
        startup_timeout: float = 20.0,
        stop_timeout: float = 10.0,
        repo_root: Path = REPO_ROOT,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.blob_port = blob_port or _free_port(host)
        self.queue_port = queue_port or _free_port(host)
        self.table_port = table_port or _free_port(host)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._script = repo_root / "node_modules" / ".bin" / "azurite"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """Azurite's stdout and stderr; appended across restarts."""
        return self.data_dir / LOG_FILE_NAME

    @property
    def blob_endpoint(self) -> str:
        """Path-style endpoint: the emulator puts the account name in the path, not the host."""
        return f"http://{self.host}:{self.blob_port}/{ACCOUNT_NAME}"

    @property
    def queue_endpoint(self) -> str:
        return f"http://{self.host}:{self.queue_port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        """Blob and Queue endpoints (what AzureWebJobsStorage needs for queue triggers)."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};"
            f"AccountKey={ACCOUNT_KEY};BlobEndpoint={self.blob_endpoint};"
            f"QueueEndpoint={self.queue_endpoint};"
        )

    @property
    def pid(self) -> int | None:
        """PID of the running node server, or None when stopped."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and return once it answers a real blob and queue request."""
        if self.is_running:
            return
        command = self._command()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # A session of its own: a Ctrl+C meant for pytest must not kill the server before
        # stop() runs, and stop() must be what ends it.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate gracefully (Azurite saves its metadata on SIGTERM); kill if it hangs."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait(self) -> int:
        """Block until the server exits on its own; returns its exit code."""
        if self._process is None:
            raise AzuriteError("Azurite is not running")
        return self._process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise AzuriteError("`node` is not on PATH; install Node.js 20 to run Azurite")
        if not self._script.exists():
            raise AzuriteError(
                f"{self._script} is missing: run `npm ci` in {self._script.parents[2]} "
                "to install Azurite from package-lock.json"
            )
        return [
            node,
            str(self._script),
            "--blobHost",
            self.host,
            "--blobPort",
            str(self.blob_port),
            "--queueHost",
            self.host,
            "--queuePort",
            str(self.queue_port),
            "--tableHost",
            self.host,
            "--tablePort",
            str(self.table_port),
            "--location",
            str(self.data_dir),
            # The SDKs' default API versions are newer than Azurite 3.35 accepts.
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
            # Otherwise 3.35 sends usage telemetry to Application Insights on every start.
            "--disableTelemetry",
        ]

    def _wait_until_ready(self) -> None:
        """An open port is not enough: Azurite listens before its metadata store is loaded."""
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AzuriteError(
                    f"Azurite exited with code {self._process.returncode} while starting.\n"
                    f"{self._log_tail()}"
                )
            try:
                if _port_accepts(self.host, self.blob_port) and _port_accepts(
                    self.host, self.queue_port
                ):
                    _probe_services(self.connection_string)
                    return
            except Exception as error:  # any failure means "not ready yet"
                last_error = error
            time.sleep(_POLL_SECONDS)
        raise AzuriteError(
            f"Azurite did not answer on {self.blob_endpoint} within {self.startup_timeout:.0f} s "
            f"(last error: {last_error!r}).\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            with self.log_path.open(encoding="utf-8", errors="replace") as log:
                tail = "".join(deque(log, maxlen=lines))
        except OSError:
            return f"(no log at {self.log_path})"
        return f"Last lines of {self.log_path}:\n{tail}" if tail else f"{self.log_path} is empty"


def _free_port(host: str) -> int:
    """Ask the OS for a free port; Azurite cannot report the port it bound when given 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _port_accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _probe_services(connection_string: str) -> None:
    """One authenticated request per service through the real SDKs; raises until Azurite
    serves them."""
    from azure.storage.blob import BlobServiceClient  # heavy: imported only when probing
    from azure.storage.queue import QueueServiceClient

    with BlobServiceClient.from_connection_string(
        connection_string, retry_total=0, connection_timeout=2, read_timeout=2
    ) as blobs:
        blobs.get_service_properties()
    with QueueServiceClient.from_connection_string(
        connection_string, retry_total=0, connection_timeout=2, read_timeout=2
    ) as queues:
        queues.get_service_properties()


def main(argv: list[str] | None = None) -> int:
    """Serve Blob and Queue storage in the foreground until Ctrl+C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.azurite",
        description="Run the Azurite Storage emulator (Blob and Queue) for local development.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=10000, help="blob port (0: any free port)")
    parser.add_argument(
        "--queue-port", type=int, default=10001, help="queue port (0: any free port)"
    )
    parser.add_argument(
        "--table-port", type=int, default=10002, help="table port (unused; 0: any free port)"
    )
    parser.add_argument(
        "--location", type=Path, default=Path(".local/azurite"), help="data directory"
    )
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    azurite = Azurite(
        args.location,
        host=args.host,
        blob_port=args.port,
        queue_port=args.queue_port,
        table_port=args.table_port,
    )
    try:
        azurite.start()
    except AzuriteError as error:
        parser.exit(1, f"{error}\n")
    print(
        f"Azurite Blob on {azurite.blob_endpoint}, Queue on {azurite.queue_endpoint} "
        f"(log: {azurite.log_path})"
    )
    print(f"AZURE_STORAGE_CONNECTION_STRING={azurite.connection_string}")
    print(f"AzureWebJobsStorage={azurite.connection_string}", flush=True)
    try:
        return azurite.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        azurite.stop()


if __name__ == "__main__":
    raise SystemExit(main())
