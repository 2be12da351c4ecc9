"""What every command shares: error output, settings with logging, passwords from stdin."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.config import Settings

Handler = Callable[[argparse.Namespace], int]
AddCommand = Callable[[str, Handler], argparse.ArgumentParser]


def fail(message: str) -> int:
    """Print `error: message` to stderr; the exit status of a failed command."""
    print(f"error: {message}", file=sys.stderr)
    return 1


def load_settings() -> Settings:
    """The app's settings, with logging configured as the Function App does.

    local.settings.json's Values are exported into the environment first (existing variables
    win), as Core Tools does for the Function App: the settings read only the environment.
    """
    from devtools.functions_host.local_settings import LocalSettingsError, export_local_settings
    from shared.config import get_settings
    from shared.errors import ConfigurationError
    from shared.observability import configure_logging

    try:
        export_local_settings()
    except LocalSettingsError as exc:
        raise ConfigurationError(str(exc)) from exc
    settings = get_settings()
    configure_logging(settings)
    return settings


def read_password(prompt: str) -> str:
    """From the terminal without echo, or the first line of piped standard input.

    Never from the command line, so a password does not sit in shell history.
    """
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat: ") != first:
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")
