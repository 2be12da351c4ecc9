"""Manifests are signed, and a chain walk trusts nothing it has not checked.

Whoever can write the backup container can write manifests. Each case here is refused by the
restore (command line and library) and by the drill, with a message saying why, and nothing is
written to the target: a forged or re-signed manifest, an unsigned one (a backup from before
signing, or the attacker's own), a chain that loops, a chain longer than the limit, an id that is
not one of ours. `--trust-unsigned` restores an old unsigned chain, never a forged signature.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from shared.backup import layout
from shared.backup.blobio import upload_small
from shared.backup.drill import run_restore_drill
from shared.backup.manifest import Manifest, ManifestError
from shared.backup.restore import restore_chain
from shared.backup.signing import (
    ManifestSignatureError,
    UnsignedManifestError,
    read_manifest,
    signed_json,
)
from shared.backup.stored_backups import MAX_CHAIN_INCREMENTALS, resolve_chain
from shared.backup.writer import manifest_metadata, run_backup
from shared.config import DEVELOPMENT_BACKUP_SIGNING_KEY
from tests.fixtures.backup import public_tables
from tests.manage_cli import run_manage, service_env

pytestmark = pytest.mark.integration

KEY = DEVELOPMENT_BACKUP_SIGNING_KEY.encode()
WHEN = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _drill_databases(url: str) -> list[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'neulbom_drill_%'")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def _manifest(backup_id: str, *, when: datetime, base: str | None, previous: str | None):
    return Manifest(
        backup_id=backup_id,
        kind=layout.parse_backup_id(backup_id)[0],
        started_at=when,
        finished_at=when,
        snapshot_at=when,
        snapshot="1:1:",
        alembic_revision="0005",
        base_backup_id=base,
        previous_backup_id=previous,
        tables=(),
    )


def _put(container, manifest: Manifest, raw: bytes | None = None) -> None:
    """Store a manifest as the writer does (signed with the development key unless `raw`)."""
    upload_small(
        container.get_blob_client(layout.manifest_blob(manifest.backup_id)),
        signed_json(manifest, KEY) if raw is None else raw,
        metadata=manifest_metadata(manifest),
    )


def _put_document(container, backup_id: str, document: dict, when: datetime) -> None:
    """Store a hand-written manifest document (what an attacker with write access can do)."""
    upload_small(
        container.get_blob_client(layout.manifest_blob(backup_id)),
        json.dumps(document).encode(),
        metadata={"kind": "incremental", "base_backup_id": "", "snapshot_at": when.isoformat()},
    )


def _cli_restore(azurite, container, target: str, *extra: str):
    env = service_env(target, azurite, BACKUP_CONTAINER=container.container_name)
    return run_manage("restore", "--target", "env:RESTORE_TARGET", *extra,
                      env={**env, "RESTORE_TARGET": target})  # fmt: skip


# -- signatures ------------------------------------------------------------------------------


def test_backups_are_signed_and_a_changed_manifest_is_refused_before_the_target_is_touched(
    populated_database_url: str, empty_database_url: str, azurite, backup_container
) -> None:
    full = run_backup(populated_database_url, backup_container)
    assert full.backup_id is not None
    blob = backup_container.get_blob_client(layout.manifest_blob(full.backup_id))
    stored = json.loads(blob.download_blob().readall())
    assert stored["signature"]["algorithm"] == "hmac-sha256"
    assert resolve_chain(backup_container)[0].provenance == "signed"

    # The attacker changes what the manifest says (here a row count); the signature stays.
    stored["tables"][0]["table_rows"] += 1
    blob.upload_blob(json.dumps(stored).encode(), overwrite=True)

    with pytest.raises(ManifestSignatureError, match="invalid signature"):
        resolve_chain(backup_container)
    restored = _cli_restore(azurite, backup_container, empty_database_url)
    assert restored.returncode == 3, restored.stderr
    assert "invalid signature" in restored.stderr
    assert public_tables(empty_database_url) == []
    # --trust-unsigned is for unsigned manifests only: a wrong signature stays refused.
    trusted = _cli_restore(azurite, backup_container, empty_database_url, "--trust-unsigned")
    assert trusted.returncode == 3, trusted.stderr
    assert public_tables(empty_database_url) == []


def test_a_manifest_signed_with_another_key_is_refused(backup_container) -> None:
    backup_id = layout.new_backup_id("full", WHEN)
    manifest = _manifest(backup_id, when=WHEN, base=None, previous=None)
    _put(backup_container, manifest, signed_json(manifest, b"an-attacker-key-" * 4))

    with pytest.raises(ManifestSignatureError, match=backup_id):
        resolve_chain(backup_container, backup_id)
    with pytest.raises(ManifestSignatureError):
        read_manifest(signed_json(manifest, b"x" * 40), KEY, name=backup_id)


def test_an_unsigned_newest_backup_fails_the_drill_and_the_restore_with_what_to_do(
    populated_database_url: str, empty_database_url: str, azurite, backup_container
) -> None:
    run_backup(populated_database_url, backup_container)
    # A newer "backup" of someone else's data, unsigned (or one written before signing).
    later = datetime.now(UTC) + timedelta(minutes=1)
    own = _manifest(layout.new_backup_id("full", later), when=later, base=None, previous=None)
    _put(backup_container, own, own.to_json())

    with pytest.raises(UnsignedManifestError, match="Take a new full backup"):
        resolve_chain(backup_container)
    record = run_restore_drill(populated_database_url, backup_container)
    assert record["status"] == "failed"
    assert "not signed" in str(record["error"])
    assert _drill_databases(populated_database_url) == []

    refused = _cli_restore(azurite, backup_container, empty_database_url)
    assert refused.returncode == 3
    assert "Take a new full backup" in refused.stderr
    assert "--trust-unsigned" in refused.stderr
    assert public_tables(empty_database_url) == []


def test_trust_unsigned_restores_a_chain_written_before_signing(
    populated_database_url: str, empty_database_url: str, azurite, backup_container
) -> None:
    full = run_backup(populated_database_url, backup_container).manifest
    assert full is not None
    # Rewrite its manifest as the release before signing did: the same document, unsigned.
    _put(backup_container, full, full.to_json())

    refused = _cli_restore(azurite, backup_container, empty_database_url)
    assert refused.returncode == 3
    assert public_tables(empty_database_url) == []

    restored = _cli_restore(azurite, backup_container, empty_database_url, "--trust-unsigned")
    assert restored.returncode == 0, restored.stderr
    assert "unsigned" in restored.stderr
    assert "MISMATCH" not in restored.stdout


def test_a_restore_refuses_manifests_that_skipped_the_signature_check(
    populated_database_url: str, empty_database_url: str, backup_container
) -> None:
    full = run_backup(populated_database_url, backup_container).manifest
    assert full is not None
    unchecked = Manifest.from_json(full.to_json())  # parsed, never verified

    with pytest.raises(ManifestError, match="signature check"):
        restore_chain(backup_container, [unchecked], empty_database_url)
    assert public_tables(empty_database_url) == []


# -- the chain walk --------------------------------------------------------------------------


def test_a_chain_that_loops_is_refused(populated_database_url, backup_container) -> None:
    # Signed with the key: the walk itself must not loop, whatever the manifests say.
    full = layout.new_backup_id("full", WHEN)
    first = layout.new_backup_id("incremental", WHEN + timedelta(minutes=15))
    second = layout.new_backup_id("incremental", WHEN + timedelta(minutes=30))
    _put(backup_container, _manifest(full, when=WHEN, base=None, previous=None))
    _put(backup_container, _manifest(first, when=WHEN + timedelta(minutes=15), base=full,
                                     previous=second))  # fmt: skip
    _put(backup_container, _manifest(second, when=WHEN + timedelta(minutes=30), base=full,
                                     previous=first))  # fmt: skip
    looping_self = layout.new_backup_id("incremental", WHEN + timedelta(minutes=45))
    _put(backup_container, _manifest(looping_self, when=WHEN + timedelta(minutes=45), base=full,
                                     previous=looping_self))  # fmt: skip

    with pytest.raises(ManifestError, match="loops"):
        resolve_chain(backup_container, second)
    with pytest.raises(ManifestError, match="loops"):
        resolve_chain(backup_container, looping_self)
    record = run_restore_drill(populated_database_url, backup_container)  # newest: the self-loop
    assert record["status"] == "failed"
    assert "loops" in str(record["error"])
    assert _drill_databases(populated_database_url) == []


def test_a_predecessor_that_is_not_older_is_refused(backup_container) -> None:
    full = layout.new_backup_id("full", WHEN)
    later = layout.new_backup_id("incremental", WHEN + timedelta(hours=1))
    earlier = layout.new_backup_id("incremental", WHEN + timedelta(minutes=15))
    _put(backup_container, _manifest(full, when=WHEN, base=None, previous=None))
    _put(backup_container, _manifest(later, when=WHEN + timedelta(hours=1), base=full,
                                     previous=full))  # fmt: skip
    _put(backup_container, _manifest(earlier, when=WHEN + timedelta(minutes=15), base=full,
                                     previous=later))  # fmt: skip

    with pytest.raises(ManifestError, match="not older"):
        resolve_chain(backup_container, earlier)


def test_a_chain_longer_than_the_limit_is_refused(backup_container) -> None:
    full = layout.new_backup_id("full", WHEN)
    _put(backup_container, _manifest(full, when=WHEN, base=None, previous=None))
    previous = full
    for step in range(1, MAX_CHAIN_INCREMENTALS + 2):  # one incremental too many
        when = WHEN + timedelta(minutes=15 * step)
        current = layout.new_backup_id("incremental", when)
        _put(backup_container, _manifest(current, when=when, base=full, previous=previous))
        previous = current
        if step == MAX_CHAIN_INCREMENTALS:
            longest = current

    with pytest.raises(ManifestError, match=f"more than {MAX_CHAIN_INCREMENTALS} incrementals"):
        resolve_chain(backup_container, previous)
    assert len(resolve_chain(backup_container, longest)) == MAX_CHAIN_INCREMENTALS + 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("previous_backup_id", "../../manifests/full-20261120T180000Z-abc123", "not a backup id"),
        ("previous_backup_id", "full-yesterday", "not a backup id"),
        ("base_backup_id", "incr-20261120T180000Z-abc123", "is not a full backup"),
        ("backup_id", "incr-20261120T181500Z-abc123", "names"),
    ],
)
def test_ids_a_manifest_names_are_checked(backup_container, field, value, message) -> None:
    full = layout.new_backup_id("full", WHEN)
    _put(backup_container, _manifest(full, when=WHEN, base=None, previous=None))
    when = WHEN + timedelta(minutes=15)
    backup_id = layout.new_backup_id("incremental", when)
    document = json.loads(_manifest(backup_id, when=when, base=full, previous=full).to_json())
    document[field] = value
    # Signed with the key: the id checks hold even for a manifest whose signature is good.
    forged = Manifest.from_json(json.dumps(document)) if field == "backup_id" else None
    if forged is not None:
        _put_document(backup_container, backup_id, json.loads(signed_json(forged, KEY)), when)
    else:
        signed = _sign_document(document)
        _put_document(backup_container, backup_id, signed, when)

    with pytest.raises(ManifestError, match=message):
        resolve_chain(backup_container, backup_id)


def _sign_document(document: dict) -> dict:
    """Sign a document that Manifest would not build (ids it refuses), as the key holder could."""
    import hashlib
    import hmac

    from shared.backup import signing

    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    mac = hmac.new(KEY, signing._CONTEXT + canonical.encode(), hashlib.sha256).hexdigest()
    return {**document, "signature": {"algorithm": signing.ALGORITHM, "value": mac}}


def test_a_restore_of_something_that_is_not_an_id_reads_nothing(backup_container) -> None:
    with pytest.raises(LookupError, match="not a backup id"):
        resolve_chain(backup_container, "../manifests/x")


def test_the_writer_starts_a_full_backup_before_a_chain_gets_too_long(
    populated_database_url: str, backup_container, monkeypatch
) -> None:
    from shared.backup import writer

    monkeypatch.setattr(writer, "MAX_CHAIN_INCREMENTALS", 1)
    full = run_backup(populated_database_url, backup_container)
    first = run_backup(populated_database_url, backup_container, kind="incremental")
    second = run_backup(populated_database_url, backup_container, kind="incremental")

    assert [full.kind, first.kind, second.kind] == ["full", "incremental", "full"]
    assert [m.backup_id for m in resolve_chain(backup_container)] == [second.backup_id]


# -- the key ---------------------------------------------------------------------------------


@pytest.fixture
def staging_with_vault(key_vault_env, monkeypatch) -> None:
    """In-process staging reading its secrets from the Key Vault fake."""
    for name, value in key_vault_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("ALLOWED_HOSTS", "staging-api.neulbomcare.example")


def test_the_key_comes_from_key_vault_and_staging_refuses_the_development_value(
    staging_with_vault, fake_key_vault
) -> None:
    from shared.backup.signing import signing_key
    from shared.errors import ConfigurationError
    from shared.secrets import get_secrets

    fake_key_vault.set_secret("BackupSigningKey", "vault-backup-signing-key-" + "k" * 32)
    assert signing_key() == ("vault-backup-signing-key-" + "k" * 32).encode()

    fake_key_vault.set_secret("BackupSigningKey", DEVELOPMENT_BACKUP_SIGNING_KEY)
    get_secrets().invalidate("BackupSigningKey")
    with pytest.raises(ConfigurationError, match="development value"):
        signing_key()
    fake_key_vault.set_secret("BackupSigningKey", "too-short")
    get_secrets().invalidate("BackupSigningKey")
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        signing_key()


def test_a_backup_without_a_key_fails_before_writing_a_blob(
    staging_with_vault, populated_database_url, backup_container
) -> None:
    # No BackupSigningKey in the vault, none in the settings (staging has no default).
    result = run_backup(populated_database_url, backup_container)

    assert result.status == "failed"
    assert "BackupSigningKey" in str(result.error)
    assert list(backup_container.list_blobs()) == []
