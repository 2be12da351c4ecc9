"""All settings the app reads, in one object, with three profiles chosen by `APP_ENV`.

Where a value comes from, strongest first:
1. environment variables: Azure app settings arrive this way, and locally `local.settings.json`
   "Values" too (exported at start by Core Tools, or by our host and manage.py through
   devtools.functions_host.local_settings; this module never reads that file);
2. the profile's defaults (development, staging, production);
3. the field defaults below.

Settings hold configuration, not a place to fetch secrets from: `shared.secrets` reads the
secret-bearing names (`DATABASE_URL`, `JWT_SECRET`, ...) from here only when no Key Vault is
configured. Loading settings never connects to anything.
"""

from __future__ import annotations

import os
import re
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.errors import ConfigurationError

APP_VERSION = "0.1.0"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
KEY_VAULT_REFERENCE_PREFIX = "@Microsoft.KeyVault("

#: The JWT secret the development profile signs with. Staging and production refuse to start
#: with it.
DEVELOPMENT_JWT_SECRET = "development-only-jwt-secret-do-not-deploy-0000"  # noqa: S105

#: The key the development profile signs backup manifests with (HMAC-SHA256). Staging and
#: production refuse it, like the development JWT secret.
DEVELOPMENT_BACKUP_SIGNING_KEY = "development-only-backup-signing-key-do-not-deploy-0000"

#: Shortest signing key (JWT, backup manifests) a deployed environment accepts.
MIN_SIGNING_KEY_LENGTH = 32

#: Azurite's documented, public development account (not a secret).
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
)


#: NCRONTAB (the Functions timer syntax): six fields, each digits, names, `*`, `/`, `,`, `-`.
NCRONTAB_FIELDS = 6
_NCRONTAB_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class DatabaseAuth(StrEnum):
    """How the app logs in to PostgreSQL (shared.db_credentials)."""

    PASSWORD = "password"  # noqa: S105 - the DatabaseURL as it is, password included
    ENTRA = "entra"  # Microsoft Entra: the managed identity's access token is the password


#: What each profile changes from the field defaults. Keys are environment-variable names.
PROFILE_DEFAULTS: dict[AppEnv, dict[str, Any]] = {
    AppEnv.DEVELOPMENT: {
        "LOG_LEVEL": "DEBUG",
        "JWT_SECRET": DEVELOPMENT_JWT_SECRET,
        "BACKUP_SIGNING_KEY": DEVELOPMENT_BACKUP_SIGNING_KEY,
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/neulbomcare",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "CORS_ALLOWED_ORIGINS": "http://localhost:3000,http://127.0.0.1:3000",
        "ALLOWED_HOSTS": "*",
        "SEED_DEMO_PASSWORD": "demo-password-1234",
    },
    AppEnv.STAGING: {
        "LOG_LEVEL": "INFO",
        "AZURE_OPENAI_TIMEOUT": 30,
    },
    AppEnv.PRODUCTION: {
        "LOG_LEVEL": "WARNING",
        "AZURE_OPENAI_TIMEOUT": 45,
        "DB_POOL_MAX": 20,
    },
}

CommaList = Annotated[list[str], NoDecode]


def _env(name: str, aliases: tuple[str, ...] = ()) -> Any:
    """Read a field from this exact environment name (and aliases), as the runbook spells it."""
    return AliasChoices(name, *aliases)


class Settings(BaseSettings):
    """The whole configuration. Field names are snake_case; each reads its runbook name."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", populate_by_name=True, frozen=True
    )

    app_env: AppEnv = Field(AppEnv.DEVELOPMENT, validation_alias=_env("APP_ENV"))
    app_version: str = Field(APP_VERSION, validation_alias=_env("APP_VERSION"))
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))

    # Database (the URL is a secret: Key Vault `DatabaseURL` when KEY_VAULT_URL is set).
    database_url: SecretStr | None = Field(None, validation_alias=_env("DATABASE_URL"))
    db_pool_min: int = Field(1, ge=0, le=50, validation_alias=_env("DB_POOL_MIN"))
    db_pool_max: int = Field(10, ge=1, le=100, validation_alias=_env("DB_POOL_MAX"))
    db_connect_timeout: int = Field(5, ge=1, le=60, validation_alias=_env("DB_CONNECT_TIMEOUT"))
    db_statement_timeout_ms: int = Field(
        15_000, ge=100, validation_alias=_env("DB_STATEMENT_TIMEOUT_MS")
    )
    #: Statement timeout of operator commands and jobs (import-csv, backup, restore, drills,
    #: maintenance), which move whole tables: 0 means none. Separate from the request-sized one.
    operator_statement_timeout_ms: int = Field(
        0, ge=0, validation_alias=_env("OPERATOR_STATEMENT_TIMEOUT_MS")
    )
    db_pool_wait_seconds: float = Field(
        5.0, gt=0, le=60, validation_alias=_env("DB_POOL_WAIT_SECONDS")
    )
    db_preping_idle_seconds: float = Field(
        10.0, ge=0, validation_alias=_env("DB_PREPING_IDLE_SECONDS")
    )
    #: `entra`: log in as DATABASE_ENTRA_USER with an access token of the app's managed
    #: identity (AZURE_CLIENT_ID for a user-assigned one); the DatabaseURL gives host and database.
    database_auth: DatabaseAuth = Field(
        DatabaseAuth.PASSWORD, validation_alias=_env("DATABASE_AUTH")
    )
    database_entra_user: str | None = Field(None, validation_alias=_env("DATABASE_ENTRA_USER"))
    azure_client_id: str | None = Field(None, validation_alias=_env("AZURE_CLIENT_ID"))

    # Secrets.
    key_vault_url: str | None = Field(None, validation_alias=_env("KEY_VAULT_URL"))
    secrets_cache_ttl_seconds: int = Field(
        300, ge=0, le=86_400, validation_alias=_env("SECRETS_CACHE_TTL_SECONDS")
    )
    jwt_secret: SecretStr | None = Field(None, validation_alias=_env("JWT_SECRET"))
    jwt_lifetime_hours: float = Field(
        12.0, gt=0, le=24 * 30, validation_alias=_env("JWT_LIFETIME_HOURS")
    )
    #: Password hashings and verifications (argon2, CPU- and memory-bound) run at once per
    #: process: the cores. More only queue on the CPU while holding host threads.
    login_concurrency: int = Field(2, ge=1, le=64, validation_alias=_env("LOGIN_CONCURRENCY"))
    #: Failed sign-ins from one client address across all accounts within the throttle's window
    #: (15 minutes) before that address gets 429: six accounts' worth of mistakes, far above what
    #: people behind one shared address make, far below password spraying.
    login_failures_per_address: int = Field(
        30, ge=5, le=100_000, validation_alias=_env("LOGIN_FAILURES_PER_ADDRESS")
    )

    # Azure OpenAI.
    azure_openai_endpoint: str | None = Field(None, validation_alias=_env("AZURE_OPENAI_ENDPOINT"))
    azure_openai_deployment: str = Field(
        "gpt-4o-mini", validation_alias=_env("AZURE_OPENAI_DEPLOYMENT")
    )
    azure_openai_api_version: str = Field(
        "2024-10-21", validation_alias=_env("AZURE_OPENAI_API_VERSION")
    )
    azure_openai_timeout: float = Field(
        30.0, gt=0, le=120, validation_alias=_env("AZURE_OPENAI_TIMEOUT")
    )
    azure_openai_api_key: SecretStr | None = Field(
        None, validation_alias=_env("AZURE_OPENAI_API_KEY")
    )
    enable_ai_care_plan: bool = Field(True, validation_alias=_env("ENABLE_AI_CARE_PLAN"))

    # Matching model.
    xgboost_model_path: str = Field("models/matching", validation_alias=_env("XGBOOST_MODEL_PATH"))
    xgboost_model_fallback: bool = Field(True, validation_alias=_env("XGBOOST_MODEL_FALLBACK"))
    enable_matching_algorithm: bool = Field(
        True, validation_alias=_env("ENABLE_MATCHING_ALGORITHM")
    )
    #: How often each process looks at the model's `current` pointer by itself (a conditional
    #: read, when the model is asked for): a published model serves everywhere within this.
    model_refresh_seconds: float = Field(
        60.0, ge=1, le=86_400, validation_alias=_env("MODEL_REFRESH_SECONDS")
    )

    # Storage.
    azure_web_jobs_storage: SecretStr | None = Field(
        None, validation_alias=_env("AzureWebJobsStorage")
    )
    azure_storage_connection_string: SecretStr | None = Field(
        None, validation_alias=_env("AZURE_STORAGE_CONNECTION_STRING")
    )
    storage_account_url: str | None = Field(None, validation_alias=_env("STORAGE_ACCOUNT_URL"))
    #: The queue service for background jobs with managed identity (shared.jobs.queue); empty:
    #: STORAGE_ACCOUNT_URL with `.blob.` read as `.queue.` (the same account).
    storage_queue_url: str | None = Field(None, validation_alias=_env("STORAGE_QUEUE_URL"))

    # Backups.
    backup_container: str = Field("backups", validation_alias=_env("BACKUP_CONTAINER"))
    # Read by the Functions host, not by Python: the nightly_backup timer's schedule is the
    # binding expression `%BACKUP_SCHEDULE%` (functions/timers.py). Declared here so a
    # malformed schedule is refused at start, naming the setting (the host would only fail to
    # index the timer), and so the infrastructure's settings are checked against this class.
    backup_schedule: str = Field("0 0 18 * * *", validation_alias=_env("BACKUP_SCHEDULE"))
    backup_retention_days: int = Field(
        35, ge=1, le=3650, validation_alias=_env("BACKUP_RETENTION_DAYS")
    )
    #: HMAC-SHA256 key of backup manifests (Key Vault `BackupSigningKey`; shared.backup.signing).
    backup_signing_key: SecretStr | None = Field(None, validation_alias=_env("BACKUP_SIGNING_KEY"))
    # Backups on demand are queue jobs (shared.jobs). The queue's name is also read by the
    # Functions host (`%BACKUP_QUEUE%` and `%BACKUP_QUEUE%-poison` in functions/queues.py).
    backup_queue: str = Field(
        "backup-jobs",
        min_length=3,
        max_length=56,  # `-poison` appended must still fit a queue name's 63
        pattern=r"^[a-z0-9](-?[a-z0-9])+$",
        validation_alias=_env("BACKUP_QUEUE"),
    )
    #: A job's worker renews its lease while it works; a lease this old means the worker died.
    backup_job_lease_seconds: float = Field(
        120.0, ge=3, le=3600, validation_alias=_env("BACKUP_JOB_LEASE_SECONDS")
    )
    #: A job that finds another backup running looks again after this many seconds.
    backup_job_retry_seconds: float = Field(
        60.0, ge=1, le=3600, validation_alias=_env("BACKUP_JOB_RETRY_SECONDS")
    )
    #: Connections a full backup (sharing one snapshot) and a restore load tables on at once.
    backup_parallel_connections: int = Field(
        2, ge=1, le=16, validation_alias=_env("BACKUP_PARALLEL_CONNECTIONS")
    )

    # HTTP.
    cors_allowed_origins: CommaList = Field(
        default_factory=list, validation_alias=_env("CORS_ALLOWED_ORIGINS")
    )
    allowed_hosts: CommaList = Field(default_factory=list, validation_alias=_env("ALLOWED_HOSTS"))
    max_request_body_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=_env("MAX_REQUEST_BODY_BYTES")
    )
    #: How many proxies we run append to X-Forwarded-For: the client's address is the entry this
    #: many places from the right (1: the Functions front end's; 2 behind Front Door as well).
    #: Entries further left are the caller's own words and never taken as its address.
    trusted_proxy_hops: int = Field(1, ge=1, le=5, validation_alias=_env("TRUSTED_PROXY_HOPS"))

    # Cost limits: calls per signed-in user and hour (shared.rate_limits), and list sizes.
    rate_limit_ai_per_hour: int = Field(
        20, ge=1, le=100_000, validation_alias=_env("RATE_LIMIT_AI_PER_HOUR")
    )
    rate_limit_matching_per_hour: int = Field(
        30, ge=1, le=100_000, validation_alias=_env("RATE_LIMIT_MATCHING_PER_HOUR")
    )
    max_medications_per_patient: int = Field(
        50, ge=1, le=10_000, validation_alias=_env("MAX_MEDICATIONS_PER_PATIENT")
    )

    # Visits (shared.visits.evidence) and offline replays (shared.idempotency).
    visit_check_in_early_minutes: int = Field(
        15, ge=0, le=240, validation_alias=_env("VISIT_CHECK_IN_EARLY_MINUTES")
    )
    visit_gps_radius_m: int = Field(
        150, ge=10, le=5_000, validation_alias=_env("VISIT_GPS_RADIUS_M")
    )
    visit_gps_max_accuracy_m: int = Field(
        100, ge=1, le=1_000, validation_alias=_env("VISIT_GPS_MAX_ACCURACY_M")
    )
    # Late and missed visits (shared.visits.watch, the `visit_watch` timer).
    visit_late_after_minutes: int = Field(
        15, ge=1, le=240, validation_alias=_env("VISIT_LATE_AFTER_MINUTES")
    )
    # Corrections of a visit's times (shared.visits.corrections).
    visit_correction_window_days: int = Field(
        30, ge=1, le=366, validation_alias=_env("VISIT_CORRECTION_WINDOW_DAYS")
    )
    idempotency_key_ttl_hours: int = Field(
        72, ge=1, le=720, validation_alias=_env("IDEMPOTENCY_KEY_TTL_HOURS")
    )
    # The monthly visit record (shared.visit_records): its Blob container and download links.
    visit_record_container: str = Field(
        "visit-records",
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9](?:-?[a-z0-9])*$",
        validation_alias=_env("VISIT_RECORD_CONTAINER"),
    )
    visit_record_link_seconds: int = Field(
        300, ge=30, le=3600, validation_alias=_env("VISIT_RECORD_LINK_SECONDS")
    )
    # The monthly benefit statements (shared.benefits.statement_files): Blob container, links;
    # the length a schedule's day without planned visits is estimated at (cap warnings).
    statement_container: str = Field(
        "statements",
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9](?:-?[a-z0-9])*$",
        validation_alias=_env("STATEMENT_CONTAINER"),
    )
    statement_link_seconds: int = Field(
        300, ge=30, le=3600, validation_alias=_env("STATEMENT_LINK_SECONDS")
    )
    benefit_estimate_visit_minutes: int = Field(
        180, ge=30, le=480, validation_alias=_env("BENEFIT_ESTIMATE_VISIT_MINUTES")
    )

    # Notifications (shared.notifications): the sender's queue, retries, and its channels.
    notification_queue: str = Field(
        "notifications",
        min_length=3,
        max_length=56,
        pattern=r"^[a-z0-9](-?[a-z0-9])+$",
        validation_alias=_env("NOTIFICATION_QUEUE"),
    )
    notify_max_attempts: int = Field(8, ge=1, le=50, validation_alias=_env("NOTIFY_MAX_ATTEMPTS"))
    notify_retry_base_seconds: float = Field(
        30.0, ge=0.1, le=3600, validation_alias=_env("NOTIFY_RETRY_BASE_SECONDS")
    )
    notify_retry_max_seconds: float = Field(
        3600.0, ge=1, le=86_400, validation_alias=_env("NOTIFY_RETRY_MAX_SECONDS")
    )
    notify_lease_seconds: float = Field(
        120.0, ge=2, le=3600, validation_alias=_env("NOTIFY_LEASE_SECONDS")
    )
    notify_batch_size: int = Field(20, ge=1, le=500, validation_alias=_env("NOTIFY_BATCH_SIZE"))
    notify_http_timeout_seconds: float = Field(
        10.0, gt=0, le=120, validation_alias=_env("NOTIFY_HTTP_TIMEOUT_SECONDS")
    )
    web_push_vapid_subject: str = Field(
        "mailto:support@neulbomcare.kr", validation_alias=_env("WEB_PUSH_VAPID_SUBJECT")
    )
    web_push_vapid_private_key: SecretStr | None = Field(
        None, validation_alias=_env("WEB_PUSH_VAPID_PRIVATE_KEY")
    )
    #: Push services the backend may POST to (shared.notifications.push_hosts): a host and its
    #: subdomains per entry; IP literals and localhost only when named exactly.
    web_push_allowed_hosts: CommaList = Field(
        default_factory=lambda: [
            "fcm.googleapis.com",
            "*.push.services.mozilla.com",
            "*.notify.windows.com",
            "*.push.apple.com",
        ],
        min_length=1,
        validation_alias=_env("WEB_PUSH_ALLOWED_HOSTS"),
    )
    acs_email_endpoint: str | None = Field(None, validation_alias=_env("ACS_EMAIL_ENDPOINT"))
    acs_email_sender: str | None = Field(None, validation_alias=_env("ACS_EMAIL_SENDER"))
    acs_email_connection_string: SecretStr | None = Field(
        None, validation_alias=_env("ACS_EMAIL_CONNECTION_STRING")
    )

    # Observability.
    applicationinsights_connection_string: SecretStr | None = Field(
        None, validation_alias=_env("APPLICATIONINSIGHTS_CONNECTION_STRING")
    )

    # Demo data (`manage.py seed-demo`, `make run`).
    seed_demo_password: SecretStr | None = Field(None, validation_alias=_env("SEED_DEMO_PASSWORD"))
    seed_caregiver_count: int = Field(
        60, ge=0, le=100_000, validation_alias=_env("SEED_CAREGIVER_COUNT")
    )
    seed_random_seed: int = Field(20261126, validation_alias=_env("SEED_RANDOM_SEED"))

    @field_validator(
        "cors_allowed_origins", "allowed_hosts", "web_push_allowed_hosts", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "database_url",
        "database_entra_user",
        "azure_client_id",
        "key_vault_url",
        "jwt_secret",
        "azure_openai_endpoint",
        "azure_openai_api_key",
        "azure_web_jobs_storage",
        "azure_storage_connection_string",
        "storage_account_url",
        "storage_queue_url",
        "applicationinsights_connection_string",
        "seed_demo_password",
        "backup_signing_key",
        "web_push_vapid_private_key",
        "acs_email_endpoint",
        "acs_email_sender",
        "acs_email_connection_string",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("backup_schedule")
    @classmethod
    def _ncrontab(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != NCRONTAB_FIELDS or not all(_NCRONTAB_FIELD.match(f) for f in fields):
            raise ValueError(
                "must be an NCRONTAB expression of six fields "
                "(second minute hour day month weekday), e.g. '0 0 18 * * *'"
            )
        return " ".join(fields)

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_log_level(cls, value: Any) -> Any:
        level = str(value).upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def is_production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @property
    def is_deployed(self) -> bool:
        """Staging or production: reachable by others, so guarded alike (no development
        secrets, a list of served host names)."""
        return self.app_env in (AppEnv.STAGING, AppEnv.PRODUCTION)

    @property
    def openai_enabled(self) -> bool:
        return self.enable_ai_care_plan and bool(self.azure_openai_endpoint)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, ProfileDefaultsSource(settings_cls))


class ProfileDefaultsSource(PydanticBaseSettingsSource):
    """Defaults of the profile that `APP_ENV` (an environment variable) names."""

    def __init__(self, settings_cls: type[BaseSettings]):
        super().__init__(settings_cls)
        raw = os.environ.get("APP_ENV") or AppEnv.DEVELOPMENT.value
        try:
            env = AppEnv(str(raw).strip().lower())
        except ValueError:
            env = AppEnv.DEVELOPMENT  # the field validator reports the bad APP_ENV value
        self._folded = {k.lower(): v for k, v in PROFILE_DEFAULTS[env].items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for name in _field_env_names(field, field_name):
            if name.lower() in self._folded:
                return self._folded[name.lower()], name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _collect(self)


def _field_env_names(field: FieldInfo, field_name: str) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [field_name]


def _collect(source: PydanticBaseSettingsSource) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field_name, field in source.settings_cls.model_fields.items():
        value, key, _ = source.get_field_value(field, field_name)
        if value is not None:
            data[key] = value
    return data


def env_name(field_name: str) -> str:
    """The environment-variable name an operator sets for a field (for error messages)."""
    field = Settings.model_fields.get(field_name)
    if field is None:
        return field_name.upper()
    return _field_env_names(field, field_name)[0]


def check_settings(settings: Settings) -> list[str]:
    """Problems that make these settings unsafe to start with, each naming its setting."""
    problems: list[str] = []
    for field_name in Settings.model_fields:
        value = getattr(settings, field_name)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and text.strip().startswith(KEY_VAULT_REFERENCE_PREFIX):
            problems.append(
                f"{env_name(field_name)} is an unresolved Key Vault reference: the Function App "
                "could not read the secret (check its identity's access to the vault)"
            )
    if "*" in settings.cors_allowed_origins:
        problems.append(
            "CORS_ALLOWED_ORIGINS must list origins: '*' cannot be combined with credentials"
        )
    if settings.is_deployed:
        for name, value, development in (
            ("JWT_SECRET", settings.jwt_secret, DEVELOPMENT_JWT_SECRET),
            ("BACKUP_SIGNING_KEY", settings.backup_signing_key, DEVELOPMENT_BACKUP_SIGNING_KEY),
        ):
            problems.extend(deployed_key_problems(name, value, development))
        if not settings.allowed_hosts or "*" in settings.allowed_hosts:
            problems.append(
                f"ALLOWED_HOSTS must list the {settings.app_env.value} host names (not '*')"
            )
    if settings.db_pool_min > settings.db_pool_max:
        problems.append("DB_POOL_MIN must not exceed DB_POOL_MAX")
    if settings.database_auth is DatabaseAuth.ENTRA and not settings.database_entra_user:
        problems.append(
            "DATABASE_ENTRA_USER must name the database role of the app's managed identity "
            "when DATABASE_AUTH is entra"
        )
    return sorted(set(problems))


def deployed_key_problems(
    name: str, value: SecretStr | str | None, development_value: str
) -> list[str]:
    """Why a signing key may not be used in staging or production (empty: it may)."""
    key = value.get_secret_value() if isinstance(value, SecretStr) else value
    if key == development_value:
        return [f"{name} holds the published development value; set a real one in Key Vault"]
    if key is not None and len(key) < MIN_SIGNING_KEY_LENGTH:
        return [f"{name} is shorter than {MIN_SIGNING_KEY_LENGTH} characters"]
    return []


def load_settings(**overrides: Any) -> Settings:
    """Read and check the settings; raise ConfigurationError naming each bad setting."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = env_name(str(error["loc"][0])) if error["loc"] else "settings"
            lines.append(f"{name}: {error['msg']}")
        raise ConfigurationError("Invalid settings:\n  " + "\n  ".join(lines)) from None
    problems = foreign_setting_problems() + check_settings(settings)
    if problems:
        raise ConfigurationError(
            f"Refusing to start ({settings.app_env.value}):\n  " + "\n  ".join(problems)
        )
    return settings


_lock = threading.Lock()
_settings: Settings | None = None


#: Names other guides use that this app does not read, and what to set instead. Unknown names
#: are ignored, but these are refused: a value meant for the app must not be silently lost.
FOREIGN_SETTINGS: dict[str, str] = {
    "SECRET_KEY": "the operations guide's SECRET_KEY is this app's JWT_SECRET "
    "(Key Vault JwtSecret): set JWT_SECRET and remove SECRET_KEY",
}


def foreign_setting_problems() -> list[str]:
    """One problem per FOREIGN_SETTINGS name set in the environment."""
    present = {name.lower() for name in os.environ}
    return [
        f"{name} is not a setting of this app: {advice}"
        for name, advice in FOREIGN_SETTINGS.items()
        if name.lower() in present
    ]


def get_settings() -> Settings:
    """The process-wide settings, loaded once on first use (never at import)."""
    global _settings  # noqa: PLW0603 - one lazily built object per process is the design
    if _settings is None:
        with _lock:
            if _settings is None:
                _settings = load_settings()
    return _settings


def reset_settings() -> None:
    """Forget the loaded settings (tests, and `manage.py` after changing the environment)."""
    global _settings  # noqa: PLW0603
    with _lock:
        _settings = None
