"""Bringing a target database's schema to a backup's Alembic revision."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def _config(url: str) -> Config:
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    # ConfigParser interpolates '%', which percent-encoded passwords contain.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def known_revision(revision: str) -> bool:
    """True when this code's migrations include `revision`."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return (
            ScriptDirectory.from_config(_config("postgresql://")).get_revision(revision) is not None
        )
    except CommandError:
        return False


def upgrade(url: str, revision: str) -> None:
    """`alembic upgrade REVISION` on the database at `url`."""
    from alembic import command

    command.upgrade(_config(url), revision)
