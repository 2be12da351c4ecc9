"""Where `make run` and `make test` find PostgreSQL: DATABASE_URL, the local server, or pgserver."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.manage_cli import REPO_ROOT, manage_env

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import psycopg2
    import devtools.database as database
    database.LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:1/postgres"  # nothing answers
    database.EMBEDDED_PGDATA = Path(sys.argv[1])
    url = database.resolve_server_url()
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    print(json.dumps({"version": version, "embedded": database._embedded_server is not None}))
    """
)


def test_an_embedded_server_serves_when_no_other_answers(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "pgdata")],
        cwd=REPO_ROOT,
        env=manage_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["embedded"] is True
    assert report["version"][0].isdigit()
    assert "embedded PostgreSQL" in result.stderr


def test_database_url_names_the_server_when_set(monkeypatch, database_url):
    from devtools.database import database_name, resolve_server_url

    monkeypatch.setenv("DATABASE_URL", database_url)
    server = resolve_server_url()
    assert database_name(server) == "postgres"
    assert server.split("@")[-1].split("/")[0] == database_url.split("@")[-1].split("/")[0]
