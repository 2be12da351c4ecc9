"""In Azure the app reaches Blob with its managed identity and no account key, so a visit
record's download link is signed with a user delegation key. Azurite over HTTPS with
`--oauth basic` and the managed-identity fake stand in for the account and the identity: the
record is written with the identity's token and the link carries the delegation key's claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from models.visit_records import RecordFormat
from shared.storage import reset_blob_service
from shared.visit_records import store
from shared.visit_records.service import ensure_stored, read_rows
from tests.factories import Parties, cursor
from tests.fakes.managed_identity import FakeManagedIdentity
from tests.fixtures.key_vault import TrustedCA
from tests.integration.test_operator_storage_identity import oauth_blob_url  # noqa: F401
from tests.integration.visit_records_data import write_month

pytestmark = pytest.mark.integration


def test_a_link_made_with_the_identity_is_a_user_delegation_sas(
    app_env: Any,
    monkeypatch: pytest.MonkeyPatch,
    oauth_blob_url: str,  # noqa: F811 - the fixture imported above
    fake_managed_identity: FakeManagedIdentity,
    trust_ca: TrustedCA,
    database_url: str,
    parties: Parties,
) -> None:
    monkeypatch.setenv("STORAGE_ACCOUNT_URL", oauth_blob_url)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(trust_ca.pem_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(trust_ca.pem_path))
    for name, value in fake_managed_identity.env().items():
        monkeypatch.setenv(name, value)
    reset_blob_service()
    tokens_before = fake_managed_identity.issued_count
    with cursor(database_url) as cur:
        care = write_month(cur, parties.patient_id, parties.assigned_caregiver)
        rows = read_rows(cur, parties.patient_id, care.month)
    record, wrote = ensure_stored(rows)
    assert wrote

    url, expires_at = store.link(parties.patient_id, care.month.text, RecordFormat.PDF)
    query = parse_qs(urlparse(url).query)
    assert query["sp"] == ["r"]
    # Signed by a delegation key the service issued to the identity (Get User Delegation Key,
    # which only an OAuth caller may ask for), valid at least as long as the link.
    assert query["skoid"]
    assert query["sktid"]
    assert datetime.fromisoformat(query["ske"][0].replace("Z", "+00:00")) >= expires_at.replace(
        microsecond=0
    )
    assert fake_managed_identity.issued_count > tokens_before
    # Azurite 3.35 checks user delegation signatures only up to service version 2025-07-05;
    # the SDK signs with a newer one (more fields in the string to sign), so fetching the
    # link is proven against the account-key links (test_visit_records_api) and in Azure.
    assert record["content_sha256"]
    reset_blob_service()
