"""`GET /api/docs`: Swagger UI, served by the app from a pinned package, renders every operation.

The page is loaded in headless Chromium (Debian's `chromium`, which `make deps` installs as root)
against the served app, so the check is what a reader sees: the operations drawn from
`/api/openapi.json`, with no file from anywhere but this app (the page's CSP forbids it).
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.problems import assert_problem

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
)


#: Debian's package first; the other names serve the same flags (developer machines, CI images).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The Chromium binary; a missing one fails: the page must be looked at, so the browser is
    part of what `make deps` installs (as root), or of what a developer installs by hand."""
    for name in BROWSERS:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin")
        if found:
            return found
    pytest.fail(
        "Chromium is missing: `make deps` installs Debian's chromium package when run as root;"
        " otherwise install it (`apt-get install chromium`)."
    )


class _Operations(HTMLParser):
    """(METHOD, path) of every operation block Swagger UI drew: `div.opblock.opblock-<method>`,
    then its `span.opblock-summary-path[data-path]`."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._method: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div" and "opblock" in classes:
            methods = [c.removeprefix("opblock-") for c in classes if c.startswith("opblock-")]
            self._method = methods[0].upper() if methods else None
        elif "opblock-summary-path" in classes and self._method:
            self.found.append((self._method, attributes.get("data-path") or ""))
            self._method = None


def rendered_operations(dom: str) -> list[tuple[str, str]]:
    parser = _Operations()
    parser.feed(dom)
    return parser.found


def test_the_page_and_its_files_are_served_by_the_app(app_server):
    page = app_server.get("api/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["X-Request-ID"]
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "://" not in page.text  # every file it loads is this app's
    for name, content_type in {
        "swagger-ui-bundle.js": "text/javascript",
        "swagger-ui.css": "text/css",
        "swagger-initializer.js": "text/javascript",
    }.items():
        assert f"/api/docs/{name}?v=" in page.text
        asset = app_server.get(f"api/docs/{name}?v=1")
        assert asset.status_code == 200, name
        assert asset.headers["Content-Type"] == f"{content_type}; charset=utf-8"
        assert asset.headers["Cache-Control"].startswith("public, max-age=")
        assert len(asset.content) > 100


@pytest.mark.parametrize(
    "name",
    [
        "index.html",  # in the package, but not one of the page's files
        "swagger-ui-bundle.js.map",
        "favicon-32x32.png",
        "..%2F..%2Frequirements.txt",
        "..%2Ffunction_app.py",
        "%2Fetc%2Fpasswd",
    ],
)
def test_anything_else_under_docs_is_not_found(app_server, name):
    body = assert_problem(app_server.get(f"api/docs/{name}"), 404, "not_found")
    assert "root:" not in body["detail"]


def test_the_docs_routes_are_public_and_read_only(app_server):
    assert app_server.get("api/docs").status_code == 200  # no Authorization header
    wrong = app_server.request("POST", "api/docs", json={})
    assert_problem(wrong, 405, "method_not_allowed")


def test_chromium_renders_every_operation_of_the_served_document(app_server, tmp_path: Path):
    document = app_server.get("api/openapi.json").json()
    expected = sorted(
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    )
    result = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            app_server.url("api/docs"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    dom = result.stdout
    assert "Unable to render this definition" not in dom, dom[-3000:]
    operations = rendered_operations(dom)
    assert operations, f"no operation rendered:\n{dom[-3000:]}"
    assert sorted(operations) == expected
    assert ("GET", "/api/patients/{patient_id}") in operations
    assert "NeulbomCare API" in dom
