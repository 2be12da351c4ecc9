"""manage.py without an Azure login: one line saying what to do, not a traceback.

The commands read Blob Storage and Key Vault with the operator's own login (STORAGE_ACCOUNT_URL,
KEY_VAULT_URL: DefaultAzureCredential). When no credential can sign in, the SDK raises
ClientAuthenticationError wherever the first token is needed; manage.py turns it into an error
naming `az login`. (Over the wire the storage SDK retries for a minute and a half first, which is
why this is checked in process.)
"""

from __future__ import annotations

import argparse
import signal

import pytest
from azure.core.exceptions import ClientAuthenticationError

import cli.backup
import manage


def test_a_failed_azure_sign_in_is_one_line_naming_az_login(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_login(_args: argparse.Namespace) -> int:
        raise ClientAuthenticationError(
            message="DefaultAzureCredential failed to retrieve a token from the included "
            "credentials.\nAttempted credentials:\n\tAzureCliCredential: Please run 'az login'"
        )

    monkeypatch.setattr(cli.backup, "cmd_list_backups", no_login)
    # main() installs the command line's signal handlers; keep the test process's own.
    monkeypatch.setattr(signal, "signal", lambda *_args: None)

    status = manage.main(["list-backups"])

    err = capsys.readouterr().err
    assert status == 1
    assert "Azure sign-in failed: run `az login`" in err
    assert "AZURE_TOKEN_CREDENTIALS=AzureCliCredential" in err
    assert "DefaultAzureCredential failed to retrieve a token" in err
    assert "Attempted credentials" not in err  # the first line only
