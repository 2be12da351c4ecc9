"""Secrets never reach the logs: the served app's captured output holds none of them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

JWT_SECRET = "jwt-secret-for-the-log-test-0123456789abcdef"
OPENAI_KEY = "openai-key-from-the-vault-5f2c9e1a7b"
DB_PASSWORD = "db-password-in-url-8c1d"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"


def test_no_configured_secret_appears_in_the_logs(
    start_app_server, fake_key_vault, key_vault_env, database_url
):
    fake_key_vault.set_secret("AzureOpenaiKey", OPENAI_KEY)
    fake_key_vault.set_secret("JwtSecret", JWT_SECRET)
    # The database URL carries a password and points at a closed port, so the app logs the
    # failure it causes: the place a careless error message would leak it.
    app = start_app_server(
        LOG_LEVEL="DEBUG",
        JWT_SECRET=JWT_SECRET,
        DATABASE_URL=f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:1/neulbomcare",
        AZURE_OPENAI_API_KEY=OPENAI_KEY,
        **key_vault_env,
    )
    headers = {"Authorization": f"Bearer {BEARER}", "X-Request-ID": "log-secrets"}
    assert app.get("health/ready", headers=headers).status_code == 503
    assert app.get("api/auth/me", headers=headers).status_code in (401, 404)
    assert app.get(f"api/nothing?token={BEARER}&password={DB_PASSWORD}").status_code == 404
    assert app.request("POST", "admin/functions/health_check").status_code == 202
    app.stop()

    logs = app.logs()
    # The logs are there (so the test can fail), and they mention what happened...
    assert '"event": "http_request"' in logs
    assert "health_check_completed" in logs
    assert "db_unreachable" in logs
    # ...but none of the secrets.
    for secret in (JWT_SECRET, OPENAI_KEY, DB_PASSWORD, BEARER):
        assert secret not in logs, f"a secret leaked into the logs: {secret[:6]}..."
