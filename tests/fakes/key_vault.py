"""An HTTPS fake of Azure Key Vault's secrets data plane, good enough for the real SDK.

It implements `GET /secrets/{name}[/{version}]?api-version=...` with Key Vault's authentication
challenge: a request without a bearer token gets 401 and

    WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
                      resource="<resource>"

azure-keyvault-secrets' ChallengeAuthPolicy then asks the credential for `<resource>/.default`,
but only after checking (verify_challenge_resource, on by default) that the vault's host ends with
"." + the resource's host: real vaults live at <name>.vault.azure.net and name the resource
https://vault.azure.net. `*.localhost` does not resolve here, so the vault is served at
https://127.0.0.1:<port> and, by the same rule (drop the first label), names the resource
https://0.0.1:<port>; "127.0.0.1:<port>" ends with ".0.0.1:<port>", so the check passes unchanged.

Tokens are accepted only if the fake managed identity issued them for that resource, like Key
Vault checking a token's audience, so a forged or misdirected token is refused.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.http import FakeServer, azure_error, json_response, server_ssl_context
from tests.fakes.managed_identity import FakeManagedIdentity

HOST = "127.0.0.1"
DEFAULT_TENANT_ID = "00000000-0000-0000-0000-00000000c0de"
RECOVERY_LEVEL = "Recoverable+Purgeable"
_SECRET_PATH = re.compile(
    r"^/secrets/(?P<name>[0-9A-Za-z-]{1,127})(?:/(?P<version>[0-9A-Za-z]*))?/?$"
)


@dataclass(frozen=True)
class SecretVersion:
    version: str
    value: str
    created: int
    expires: int | None = None


class FakeKeyVault(FakeServer):
    """One vault: secrets with versions, served over HTTPS with a trustme certificate."""

    def __init__(
        self,
        identity: FakeManagedIdentity,
        ca: trustme.CA,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
    ) -> None:
        self.identity = identity
        self.tenant_id = tenant_id
        ssl_context = server_ssl_context(ca, HOST)
        self._server = HTTPServer(host=HOST, port=0, ssl_context=ssl_context, threaded=True)
        self._server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)
        self._versions: dict[str, list[SecretVersion]] = {}
        self._get_counts: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The vault URL, as KEY_VAULT_URL would hold it (no trailing slash)."""
        return self._server.url_for("/").rstrip("/")

    @property
    def resource(self) -> str:
        """The audience the challenge names; see the module docstring for why this host."""
        parent_host = HOST.split(".", 1)[1]
        return f"https://{parent_host}:{self._server.port}"

    @property
    def challenge(self) -> str:
        return (
            f'Bearer authorization="https://login.microsoftonline.com/{self.tenant_id}", '
            f'resource="{self.resource}"'
        )

    def set_secret(self, name: str, value: str, *, expires: int | None = None) -> str:
        """Add a new version of `name` (creating or rotating it), expiring at `expires` (epoch
        seconds) if given; returns the version id."""
        version = SecretVersion(uuid.uuid4().hex, value, int(time.time()), expires)
        with self._lock:
            self._versions.setdefault(name, []).append(version)
        return version.version

    def delete_secret(self, name: str) -> None:
        with self._lock:
            self._versions.pop(name, None)

    def request_count(self, name: str) -> int:
        """Authorised GETs of `name` (any version, found or not): proof of caching, or of not."""
        with self._lock:
            return self._get_counts.get(name, 0)

    def reset(self) -> None:
        """Forget every secret and count, so a session-wide server can serve each test afresh."""
        with self._lock:
            self._versions.clear()
            self._get_counts.clear()
        self._server.clear_log()
        self._server.check_handler_errors()

    def _handle(self, request: Request) -> Response:
        # Key Vault authenticates before it looks at anything else, even the path.
        refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        if not request.args.get("api-version"):
            return azure_error(HTTPStatus.BAD_REQUEST, "BadParameter", "api-version is required")
        if request.path.rstrip("/") == "/secrets" and request.method == "GET":
            return self._list_secrets()
        match = _SECRET_PATH.match(request.path)
        if match is None:
            return azure_error(HTTPStatus.NOT_FOUND, "NotFound", f"No such route: {request.path}")
        if request.method != "GET":
            return azure_error(
                HTTPStatus.METHOD_NOT_ALLOWED, "BadParameter", "This fake only serves GET"
            )
        return self._get_secret(match["name"], match["version"] or "")

    def _authenticate(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self._unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        if not self.identity.is_valid(token.strip(), self.resource):
            return self._unauthorized("AKV10032: Invalid issuer or audience.")
        return None

    def _unauthorized(self, message: str) -> Response:
        response = azure_error(HTTPStatus.UNAUTHORIZED, "Unauthorized", message)
        response.headers["WWW-Authenticate"] = self.challenge
        return response

    def _get_secret(self, name: str, version: str) -> Response:
        with self._lock:
            self._get_counts[name] = self._get_counts.get(name, 0) + 1
            found = _pick_version(self._versions.get(name, []), version)
        if found is None:
            label = f"{name}/{version}" if version else name
            return azure_error(
                HTTPStatus.NOT_FOUND,
                "SecretNotFound",
                f"A secret with (name/id) {label} was not found in this key vault.",
            )
        return json_response(HTTPStatus.OK, self._bundle(name, found))

    def _list_secrets(self) -> Response:
        """GET /secrets: each secret's current version's attributes, never a value (one page)."""
        with self._lock:
            current = {name: versions[-1] for name, versions in self._versions.items() if versions}
        items = [
            {"id": f"{self.url}/secrets/{name}", "attributes": _attributes(secret), "tags": {}}
            for name, secret in sorted(current.items())
        ]
        return json_response(HTTPStatus.OK, {"value": items, "nextLink": None})

    def _bundle(self, name: str, secret: SecretVersion) -> dict[str, Any]:
        return {
            "value": secret.value,
            "id": f"{self.url}/secrets/{name}/{secret.version}",
            "attributes": _attributes(secret),
            "tags": {},
        }


def _attributes(secret: SecretVersion) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "enabled": True,
        "created": secret.created,
        "updated": secret.created,
        "recoveryLevel": RECOVERY_LEVEL,
        "recoverableDays": 90,
    }
    if secret.expires is not None:
        attributes["exp"] = secret.expires
    return attributes


def _pick_version(versions: list[SecretVersion], version: str) -> SecretVersion | None:
    """No version means the latest, as in Key Vault."""
    if not version:
        return versions[-1] if versions else None
    return next((v for v in versions if v.version == version), None)
