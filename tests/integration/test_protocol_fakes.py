"""The fakes speak the real wire protocols: the real Azure SDKs talk to them unmodified."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import BlobServiceClient

from devtools.azurite import Azurite
from tests.fakes.key_vault import FakeKeyVault
from tests.fakes.managed_identity import FakeManagedIdentity
from tests.fixtures.key_vault import TrustedCA

pytestmark = pytest.mark.integration

API_VERSION = "7.5"


@pytest.fixture
def secret_client(
    key_vault_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretClient]:
    """The production way in: DefaultAzureCredential finds the managed identity from the env."""
    for name, value in key_vault_env.items():
        monkeypatch.setenv(name, value)
    credential = DefaultAzureCredential()
    with SecretClient(vault_url=key_vault_env["KEY_VAULT_URL"], credential=credential) as client:
        yield client
    credential.close()


def test_sdk_reads_a_secret_with_a_managed_identity_token(
    secret_client: SecretClient,
    fake_key_vault: FakeKeyVault,
    fake_managed_identity: FakeManagedIdentity,
) -> None:
    version = fake_key_vault.set_secret("DatabaseURL", "postgresql://app@db/neulbom")
    tokens_before = fake_managed_identity.issued_count

    secret = secret_client.get_secret("DatabaseURL")
    again = secret_client.get_secret("DatabaseURL")

    assert secret.value == again.value == "postgresql://app@db/neulbom"
    assert secret.properties.version == version
    assert secret.id == f"{fake_key_vault.url}/secrets/DatabaseURL/{version}"
    assert secret.properties.enabled is True
    assert fake_key_vault.request_count("DatabaseURL") == 2
    # The SDK caches its token: at most one was fetched for both reads.
    assert fake_managed_identity.issued_count - tokens_before <= 1


def test_rotation_returns_the_new_value_on_the_next_get(
    secret_client: SecretClient, fake_key_vault: FakeKeyVault
) -> None:
    old_version = fake_key_vault.set_secret("JwtSecret", "old-signing-key")
    assert secret_client.get_secret("JwtSecret").value == "old-signing-key"

    new_version = fake_key_vault.set_secret("JwtSecret", "new-signing-key")

    assert new_version != old_version
    assert secret_client.get_secret("JwtSecret").value == "new-signing-key"
    assert secret_client.get_secret("JwtSecret", old_version).value == "old-signing-key"


def test_missing_secret_raises_resource_not_found(
    secret_client: SecretClient, fake_key_vault: FakeKeyVault
) -> None:
    fake_key_vault.set_secret("AzureOpenaiKey", "sk-test")
    fake_key_vault.delete_secret("AzureOpenaiKey")

    with pytest.raises(ResourceNotFoundError) as raised:
        secret_client.get_secret("AzureOpenaiKey")

    assert raised.value.error is not None
    assert raised.value.error.code == "SecretNotFound"


def test_the_same_fakes_serve_a_subprocess(
    key_vault_env: dict[str, str], fake_key_vault: FakeKeyVault
) -> None:
    fake_key_vault.set_secret("StorageConnectionString", "UseDevelopmentStorage=true")
    script = (
        "import os\n"
        "from azure.identity import DefaultAzureCredential\n"
        "from azure.keyvault.secrets import SecretClient\n"
        "client = SecretClient(os.environ['KEY_VAULT_URL'], DefaultAzureCredential())\n"
        "print(client.get_secret('StorageConnectionString').value)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **key_vault_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "UseDevelopmentStorage=true"
    assert fake_key_vault.request_count("StorageConnectionString") == 1


def test_vault_refuses_forged_and_missing_tokens_but_accepts_issued_ones(
    fake_key_vault: FakeKeyVault,
    fake_managed_identity: FakeManagedIdentity,
    trust_ca: TrustedCA,
) -> None:
    fake_key_vault.set_secret("JwtSecret", "s3cret")
    url = f"{fake_key_vault.url}/secrets/JwtSecret"
    # verify per request: requests lets REQUESTS_CA_BUNDLE override a Session's verify.
    tls: dict[str, Any] = {
        "params": {"api-version": API_VERSION},
        "verify": str(trust_ca.pem_path),
        "timeout": 5,
    }
    token = _token_for(fake_managed_identity, fake_key_vault.resource)

    anonymous = requests.get(url, **tls)
    forged = requests.get(url, headers={"Authorization": "Bearer forged"}, **tls)
    authorised = requests.get(url, headers={"Authorization": f"Bearer {token}"}, **tls)

    for refused in (anonymous, forged):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == fake_key_vault.challenge
        assert "s3cret" not in refused.text
    assert authorised.status_code == 200
    assert authorised.json()["value"] == "s3cret"
    assert fake_key_vault.request_count("JwtSecret") == 1


def test_identity_endpoint_refuses_a_wrong_identity_header(
    fake_managed_identity: FakeManagedIdentity,
) -> None:
    response = requests.get(
        fake_managed_identity.endpoint,
        params={"api-version": "2019-08-01", "resource": "https://vault.azure.net"},
        headers={"X-IDENTITY-HEADER": "not-the-platform-secret"},
        timeout=5,
    )

    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


def test_vault_is_served_over_tls_that_only_the_test_ca_vouches_for(
    fake_key_vault: FakeKeyVault,
) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{fake_key_vault.url}/secrets/x", verify=certifi.where(), timeout=5)


def test_blob_round_trip_through_azurite(blob_service: BlobServiceClient) -> None:
    container = blob_service.create_container(f"backups-{uuid.uuid4().hex[:8]}")

    container.upload_blob("nightly/2026-01-01.sql.gz", b"\x1f\x8bdump")
    downloaded = container.download_blob("nightly/2026-01-01.sql.gz").readall()

    assert downloaded == b"\x1f\x8bdump"
    assert [b.name for b in container.list_blobs()] == ["nightly/2026-01-01.sql.gz"]


def test_azurite_keeps_its_data_across_stop_and_start(tmp_path: Path) -> None:
    with Azurite(tmp_path / "azurite") as azurite:
        endpoint, first_pid = azurite.blob_endpoint, azurite.pid
        with BlobServiceClient.from_connection_string(azurite.connection_string) as client:
            client.create_container("drill").upload_blob("model.ubj", b"weights")

        azurite.stop()
        assert not azurite.is_running
        azurite.start()

        assert azurite.blob_endpoint == endpoint
        assert azurite.pid != first_pid
        with BlobServiceClient.from_connection_string(azurite.connection_string) as client:
            blob = client.get_blob_client("drill", "model.ubj")
            assert blob.download_blob().readall() == b"weights"


def _token_for(identity: FakeManagedIdentity, resource: str) -> str:
    response = requests.get(
        identity.endpoint,
        params={"api-version": "2019-08-01", "resource": resource},
        headers={"X-IDENTITY-HEADER": identity.identity_header},
        timeout=5,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
