"""Every readiness check: the database, Blob Storage, Key Vault, the matching model, Azure
OpenAI and the age of the backups.

Imported for its side effect (registration with shared.health) by the health blueprint and by
the health-check timer (shared.operations.health_check), so both run the same checks.
"""

from __future__ import annotations

from typing import cast

from models.health import CheckStatus
from shared.config import get_settings
from shared.db import get_database
from shared.errors import ServiceUnavailableError
from shared.health import CheckOutcome, readiness_check
from shared.observability import redact_text
from shared.secrets import get_secrets
from shared.storage import get_probe_blob_service
from shared.unit_of_work import UnitOfWork


@readiness_check("database", critical=True)
def check_database() -> CheckOutcome | None:
    """One round trip, and, after a login was refused for its credentials, one new login
    (connections made before a credential change keep working; new ones must too)."""
    database = get_database()
    try:
        database.ping()
        database.check_login()
    except ServiceUnavailableError:
        refused = database.login_refused
        if refused is None:
            raise
        detail = f"authentication failed: the database refused the app's login ({refused})"
        return CheckOutcome("down", redact_text(detail)[:300])
    return None


@readiness_check("blob_storage")
def check_blob_storage() -> None:
    client = get_probe_blob_service()
    next(client.list_containers(results_per_page=1, timeout=3).by_page(), None)


@readiness_check("key_vault", optional=True)
def check_key_vault() -> CheckOutcome | None:
    vault = get_secrets().key_vault
    if vault is None:
        return CheckOutcome("disabled", "KEY_VAULT_URL is not set; secrets come from app settings")
    vault.ping()
    return None


@readiness_check("matching_model")
def check_matching_model() -> CheckOutcome:
    # Loads the model on the first probe (lazy, once); afterwards it only reads the state.
    # With ENABLE_MATCHING_ALGORITHM false nothing is loaded and the check says `disabled`.
    from shared.matching.model_registry import model_health

    status, detail = model_health()
    return CheckOutcome(cast(CheckStatus, status), detail)


@readiness_check("openai")
def check_openai() -> CheckOutcome:
    """Configuration and the outcome of recent calls; never calls the model."""
    from shared.ai.client import health

    status, detail = health(get_settings())
    return CheckOutcome(cast(CheckStatus, status), detail)


@readiness_check("backups", optional=True)
def check_backups() -> CheckOutcome:
    """Age of the newest backups (RPO 15 min: 30 min is late; a full backup daily: 26 h)."""
    from shared.backup.status import backup_ages, describe

    with UnitOfWork.for_job(readonly=True) as uow:
        ages = backup_ages(uow.cursor)
    return CheckOutcome("degraded" if ages["problems"] else "ok", describe(ages))
