"""Operators reach the backups with their Azure login, never a key (issue 15 item 4).

The storage account refuses shared keys, so `list-backups`, `verify-backup` and `restore` from a
workstation read Blob Storage with `STORAGE_ACCOUNT_URL` and DefaultAzureCredential: `az login`
there, the managed-identity fake here (the same credential chain; docs/operations.md, "Reaching
production"). Azurite runs over HTTPS with `--oauth basic`, so it takes a bearer token for
`https://storage.azure.com` from an Entra issuer instead of the account key; no connection string
is given to the commands at all.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import BlobServiceClient

from devtools.azurite import ACCOUNT_NAME, REPO_ROOT
from tests.fakes.managed_identity import FakeManagedIdentity
from tests.fixtures.backup import make_changes
from tests.fixtures.key_vault import TrustedCA
from tests.manage_cli import manage_env, run_manage

pytestmark = pytest.mark.integration

STORAGE_RESOURCE = "https://storage.azure.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def oauth_blob_url(trust_ca: TrustedCA, tmp_path: Path) -> Iterator[str]:
    """An Azurite Blob service over HTTPS (the test CA's certificate) that accepts bearer tokens."""
    leaf = trust_ca.ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "blob-cert.pem", tmp_path / "blob-key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    port = _free_port()
    node = shutil.which("node")
    assert node is not None, "Node.js runs Azurite: install Node.js 20"
    log = (tmp_path / "azurite.log").open("ab")
    process = subprocess.Popen(
        [
            node,
            str(REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"),
            "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--location", str(tmp_path / "data"),
            "--oauth", "basic", "--cert", str(cert), "--key", str(key),
            "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (tmp_path / "azurite.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "Azurite did not start"
                time.sleep(0.1)
        yield f"https://127.0.0.1:{port}/{ACCOUNT_NAME}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def operator_env(
    database_url: str,
    blob_url: str,
    identity: FakeManagedIdentity,
    trust_ca: TrustedCA,
    **settings: str,
) -> dict[str, str]:
    """What an operator's shell holds: the database, the account URL and a login; no key."""
    return manage_env(
        DATABASE_URL=database_url,
        STORAGE_ACCOUNT_URL=blob_url,
        REQUESTS_CA_BUNDLE=str(trust_ca.pem_path),
        SSL_CERT_FILE=str(trust_ca.pem_path),
        # DefaultAzureCredential narrowed to the fake (a developer's own az login never answers).
        AZURE_TOKEN_CREDENTIALS="ManagedIdentityCredential",
        **identity.env(),
        **settings,
    )


def test_the_storage_refuses_requests_without_a_token(
    oauth_blob_url: str, trust_ca: TrustedCA
) -> None:
    """No key and no token: nothing is read (what `allowSharedKeyAccess: false` leaves)."""
    anonymous = BlobServiceClient(
        oauth_blob_url, retry_total=0, connection_verify=str(trust_ca.pem_path)
    )
    with pytest.raises((HttpResponseError, ClientAuthenticationError)):
        list(anonymous.list_containers())


def test_operators_list_verify_and_restore_backups_with_their_login(
    populated_database_url: str,
    empty_database_url: str,
    oauth_blob_url: str,
    fake_managed_identity: FakeManagedIdentity,
    trust_ca: TrustedCA,
) -> None:
    env = operator_env(
        populated_database_url,
        oauth_blob_url,
        fake_managed_identity,
        trust_ca,
        BACKUP_CONTAINER="backups",
    )
    tokens_before = fake_managed_identity.issued_count

    full = run_manage("backup", env=env, timeout=120)
    assert full.returncode == 0, full.stderr
    make_changes(psycopg2.connect(populated_database_url))
    incremental = run_manage("backup", "--incremental", env=env, timeout=120)
    assert incremental.returncode == 0, incremental.stderr

    listed = run_manage("list-backups", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "full-" in listed.stdout
    assert "incr-" in listed.stdout

    verified = run_manage("verify-backup", "latest", env=env)
    assert verified.returncode == 0, verified.stderr
    assert "all match" in verified.stdout

    restored = run_manage(
        "restore", "--backup", "latest", "--target", "env:RESTORE_TARGET",
        env={**env, "RESTORE_TARGET": empty_database_url}, timeout=120,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert "MISMATCH" not in restored.stdout

    # Every command asked the identity endpoint for a storage token: no key was involved.
    assert fake_managed_identity.issued_count >= tokens_before + 5
    assert "AccountKey" not in "".join(env.values())
