"""Signed manifests: HMAC-SHA256 with the `BackupSigningKey` secret.

Whoever can write the backup container could otherwise write a manifest of their own: point a
restore at their own data, or make a chain walk loop. So every manifest carries

    "signature": {"algorithm": "hmac-sha256", "value": "<hex>"}

over the rest of the document (canonical JSON: sorted keys, no spaces, ASCII), prefixed with a
context string so the key signs nothing else by accident. A manifest is trusted only after its
signature checks out (`read_manifest`); nothing in it is looked at before.

Manifests written before signing have no signature. They are refused, with a message telling
the operator to take a new full backup; `manage.py restore --trust-unsigned` accepts them (never
a wrong signature) for an operator who knows where the backup came from.

The key is read through shared.secrets (Key Vault `BackupSigningKey`, else the app setting
`BACKUP_SIGNING_KEY`; development has a published default). Staging and production refuse the
development value and keys under 32 characters, here as at start-up, so a vault holding the
development value is refused too. Rotating the key makes the older manifests unverifiable:
take a full backup right after a rotation and keep the old key until its chains are pruned.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any

from shared.backup.manifest import Manifest, ManifestError

SECRET_NAME = "BackupSigningKey"  # noqa: S105  (the name, not the value)
ALGORITHM = "hmac-sha256"
SIGNATURE_FIELD = "signature"
_CONTEXT = b"neulbomcare backup manifest v1\n"


class ManifestSignatureError(ManifestError):
    """The manifest's signature is missing, malformed or wrong: nothing in it is trusted."""


class UnsignedManifestError(ManifestSignatureError):
    """A manifest without a signature (written before manifests were signed, or forged)."""


def signing_key() -> bytes:
    """The current HMAC key; ConfigurationError when a deployed environment has a weak one."""
    from shared.config import DEVELOPMENT_BACKUP_SIGNING_KEY, deployed_key_problems, get_settings
    from shared.errors import ConfigurationError
    from shared.secrets import get_secrets

    value = get_secrets().get(SECRET_NAME)
    if get_settings().is_deployed:
        problems = deployed_key_problems(SECRET_NAME, value, DEVELOPMENT_BACKUP_SIGNING_KEY)
        if problems:
            raise ConfigurationError("; ".join(problems))
    return value.encode("utf-8")


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(document: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, _CONTEXT + _canonical(document), hashlib.sha256).hexdigest()


def signed_json(manifest: Manifest, key: bytes) -> bytes:
    """The manifest's JSON document with its signature, as stored in Blob."""
    document = json.loads(manifest.to_json())
    document[SIGNATURE_FIELD] = {"algorithm": ALGORITHM, "value": _mac(document, key)}
    return json.dumps(document, indent=1, sort_keys=True).encode("utf-8")


def read_manifest(
    raw: bytes | str, key: bytes, *, name: str, trust_unsigned: bool = False
) -> Manifest:
    """Check the signature of a stored manifest, then parse it.

    `name` is what the messages call it (the backup id it was stored under). An unsigned
    manifest is refused unless `trust_unsigned`; a wrong or malformed signature always is.
    """
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise ManifestError(f"manifest of {name} is unreadable: {exc}") from None
    if not isinstance(document, dict):
        raise ManifestError(f"manifest of {name} is not a JSON object")
    signature = document.pop(SIGNATURE_FIELD, None)
    if signature is None:
        if not trust_unsigned:
            raise UnsignedManifestError(
                f"manifest of {name} is not signed: it was written before backups were signed, "
                "or by someone else. Take a new full backup (manage.py backup) and restore that; "
                "to restore this one anyway after checking where it came from, pass "
                "--trust-unsigned to manage.py restore"
            )
        return replace(Manifest.from_json(json.dumps(document)), provenance="trusted-unsigned")
    if (
        not isinstance(signature, dict)
        or signature.get("algorithm") != ALGORITHM
        or not isinstance(signature.get("value"), str)
        or not hmac.compare_digest(signature["value"], _mac(document, key))
    ):
        raise ManifestSignatureError(
            f"manifest of {name} has an invalid signature: it was changed after it was written, "
            f"or signed with another {SECRET_NAME}; it is not used"
        )
    return replace(Manifest.from_json(json.dumps(document)), provenance="signed")
