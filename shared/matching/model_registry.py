"""The matching model this process serves: loaded lazily, verified, swapped atomically.

- First use (`get_active_model`) reads the `current.json` pointer from Blob Storage
  (`XGBOOST_MODEL_PATH`; credentials from the secrets provider's `StorageConnectionString`, or
  managed identity with `STORAGE_ACCOUNT_URL`), downloads the version unless the local disk cache
  already holds it, verifies it (manifest, feature list, sha256, a test prediction) and serves it.
- Blob Storage unreachable on a cold start: the last verified model on local disk serves.
- Nothing valid (not published, tampered, incompatible): the rule scorer serves when
  `XGBOOST_MODEL_FALLBACK` is true, the error is logged, and readiness says `degraded`; when it
  is false, matching answers 503 instead (`ServiceUnavailableError`).
- `reload_model` (the `model_refresh` timer, `POST /api/admin/model/reload`) re-reads the pointer
  and, when it names another version, loads and verifies that version completely before one
  assignment swaps it in. Requests already scoring keep the object they hold; a failed reload
  keeps the previous model serving.
- Every instance follows the pointer by itself (the timer and the reload endpoint each reach
  one instance): when the model is asked for and `MODEL_REFRESH_SECONDS` have passed since the
  last look, a background thread reads the pointer conditionally (`If-None-Match` with the ETag
  last seen: an unchanged pointer is a 304 without a body) and only when it changed reloads as
  above. At most one look per interval per process; the asking request never waits for it.

`ENABLE_MATCHING_ALGORITHM` false: the model is neither loaded nor used. The rule scorer serves
(responses say `"kind": "rules"`), nothing is read from Blob Storage or the disk cache (reloads
included), and readiness reports the model as `disabled`.

Serving reads one attribute without a lock; only loads take the lock, so a reload never blocks
or fails a request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.config import get_settings
from shared.errors import ServiceUnavailableError
from shared.matching.model_store import (
    Manifest,
    ModelDiskCache,
    ModelLocation,
    ModelNotPublishedError,
    ModelStoreError,
    PointerRead,
    StoreUnreachableError,
    build_scorer,
    default_cache_root,
    fetch_manifest,
    fetch_model,
    read_pointer_if_changed,
)
from shared.matching.scoring import RuleScorer, Scorer
from shared.observability import get_logger

log = get_logger("matching.model")


@dataclass(frozen=True)
class ActiveModel:
    """What scores matching requests right now."""

    kind: str  # "xgboost" | "rules"
    version: str
    scorer: Scorer
    metrics: dict[str, Any]
    loaded_at: datetime | None
    detail: str | None  # why the rules serve, or where the model came from
    source: str = "fallback"  # "blob" | "disk-cache" | "fallback"
    manifest: Manifest | None = field(default=None, repr=False)


DISABLED_DETAIL = "ENABLE_MATCHING_ALGORITHM is false: the rule scorer serves"


def _fallback(reason: str) -> ActiveModel:
    scorer = RuleScorer()
    return ActiveModel(
        kind=scorer.kind,
        version=scorer.version,
        scorer=scorer,
        metrics={},
        loaded_at=None,
        detail=reason,
        source="fallback",
    )


def _serving(manifest: Manifest, scorer: Scorer, source: str, detail: str | None) -> ActiveModel:
    return ActiveModel(
        kind="xgboost",
        version=manifest.version,
        scorer=scorer,
        metrics=dict(manifest.metrics),
        loaded_at=datetime.now(UTC),
        detail=detail,
        source=source,
        manifest=manifest,
    )


def _auth_failure(exc: BaseException) -> bool:
    from azure.core.exceptions import ClientAuthenticationError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ClientAuthenticationError):
            return True
        cause = cause.__cause__
    return False


class ModelRegistry:
    """One per process (see `get_registry`); tests build their own."""

    def __init__(
        self,
        *,
        model_path: str,
        fallback_enabled: bool,
        blob_service_factory: Callable[[], Any],
        cache_root: str | Path | None = None,
        on_auth_failure: Callable[[], None] | None = None,
        enabled: bool = True,
        refresh_seconds: float | None = None,
    ):
        self.location = ModelLocation.parse(model_path)
        self.fallback_enabled = fallback_enabled
        #: ENABLE_MATCHING_ALGORITHM: false serves the rules without touching the model store.
        self.enabled = enabled
        self._factory = blob_service_factory
        self._on_auth_failure = on_auth_failure
        self._cache_root = Path(cache_root) if cache_root else default_cache_root()
        self._client: Any = None
        self._cache: ModelDiskCache | None = None
        self._active: ActiveModel | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.checked_at: datetime | None = None
        #: MODEL_REFRESH_SECONDS: how often this process looks at the pointer by itself (None:
        #: never; only `reload` does).
        self.refresh_seconds = refresh_seconds
        self._pointer_etag: str | None = None  # the pointer's ETag when it named the active model
        self._next_look = 0.0  # time.monotonic() from which the next look is due
        self._look_lock = threading.Lock()  # held while one background look runs

    # -- plumbing ---------------------------------------------------------------------------

    def _blob_service(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _disk_cache(self) -> ModelDiskCache:
        """The cache of this store: keyed by the account's endpoint and the model path, so two
        storage accounts (or two local emulators) never serve each other's model."""
        if self._cache is None:
            try:
                endpoint = str(getattr(self._blob_service(), "url", "") or "")
            except Exception:  # no credentials at all: nothing was ever cached for them either
                endpoint = ""
            self._cache = ModelDiskCache(
                self._cache_root, f"{endpoint.rstrip('/')}/{self.location}"
            )
        return self._cache

    def _read_pointer(self) -> PointerRead:
        """The published version and the pointer's ETag."""
        read = self._read_pointer_if_changed(None)
        if read is None:  # pragma: no cover - an unconditional read always has a body
            raise StoreUnreachableError("the pointer read answered without a body")
        return read

    def _read_pointer_if_changed(self, etag: str | None) -> PointerRead | None:
        """The pointer unless it still has `etag` (None); rebuilds the client once after an
        authentication failure."""
        for attempt in (1, 2):
            try:
                return read_pointer_if_changed(self._blob_service(), self.location, etag)
            except ModelStoreError as exc:
                if attempt == 1 and _auth_failure(exc) and self._on_auth_failure is not None:
                    self._on_auth_failure()  # a rotated key: forget the cached secret
                    self._client = None
                    continue
                raise
            except Exception as exc:  # no credentials, a bad connection string, ...
                raise StoreUnreachableError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        raise AssertionError("unreachable")

    def _load_version(self, version: str) -> ActiveModel:
        """The given version, from the disk cache when it has it, else from Blob (then cached)."""
        cache = self._disk_cache()
        try:
            cached = cache.load(version)
        except ModelStoreError as exc:
            log.warning("model_cache_ignored", version=version, error=str(exc))
            cached = None
        if cached is not None:
            manifest, raw = cached
            return _serving(manifest, build_scorer(manifest, raw), "disk-cache", None)
        service = self._blob_service()
        manifest = fetch_manifest(service, self.location, version)
        from shared.matching.model_store import check_compatible

        check_compatible(manifest)  # before downloading megabytes we could not use
        raw = fetch_model(service, self.location, manifest)
        scorer = build_scorer(manifest, raw)
        try:
            cache.save(manifest, raw)
        except OSError as exc:  # a read-only disk costs a download next time, nothing more
            log.warning("model_cache_write_failed", error=str(exc))
        return _serving(manifest, scorer, "blob", None)

    def _last_cached(self, reason: str) -> ActiveModel:
        """The last verified model on disk, or the rules; `reason` says why Blob's was not used."""
        try:
            cached = self._disk_cache().load()
            if cached is not None:
                manifest, raw = cached
                scorer = build_scorer(manifest, raw)
                return _serving(
                    manifest, scorer, "disk-cache", f"{reason}; serving the cached model"
                )
        except ModelStoreError as exc:
            log.error("model_cache_unusable", error=str(exc))
        return _fallback(reason)

    def _initial_load(self) -> ActiveModel:
        self.checked_at = datetime.now(UTC)
        if not self.enabled:
            log.info("matching_model_disabled")
            return _fallback(DISABLED_DETAIL)
        self._schedule_next_look()
        try:
            pointer = self._read_pointer()
        except ModelNotPublishedError as exc:
            self.last_error = str(exc)
            log.warning("matching_model_not_published", location=str(self.location))
            return _fallback(str(exc))
        except ModelStoreError as exc:
            reason = f"cannot read the model pointer: {exc}"
            self.last_error = reason
            log.error("matching_model_unreachable", location=str(self.location), error=str(exc))
            return self._last_cached(reason)
        version = pointer.version
        try:
            active = self._load_version(version)
        except Exception as exc:  # a bad model never breaks matching
            reason = f"refused model {version}: {exc}"
            self.last_error = reason
            log.error("matching_model_refused", version=version, error=str(exc))
            return self._last_cached(reason)
        self._pointer_etag = pointer.etag
        self.last_error = None
        log.info("matching_model_loaded", version=active.version, source=active.source)
        return active

    # -- public -----------------------------------------------------------------------------

    @property
    def attempted(self) -> bool:
        return self._active is not None

    def current(self) -> ActiveModel:
        """The serving model, loading it on first use (never raises)."""
        active = self._active
        if active is None:
            with self._lock:
                if self._active is None:
                    self._active = self._initial_load()
                active = self._active
        elif (
            self.refresh_seconds is not None
            and self.enabled
            and time.monotonic() >= self._next_look
        ):
            self._look_in_background()
        return active

    def get(self) -> ActiveModel:
        """The serving model; ServiceUnavailableError when only the disabled fallback is left."""
        active = self.current()
        if active.kind != "xgboost" and not self.fallback_enabled and self.enabled:
            raise ServiceUnavailableError(
                "Matching is unavailable: no valid model is loaded and the rule fallback is off.",
                retry_after=60,
            )
        return active

    def reload(self) -> ActiveModel:
        """Serve the version the pointer names now, if it differs and is valid."""
        with self._lock:
            previous = self._active
            if previous is None or not self.enabled:
                self._active = previous or self._initial_load()
                return self._active
            self.checked_at = datetime.now(UTC)
            self._schedule_next_look()
            try:
                pointer = self._read_pointer()
            except ModelStoreError as exc:
                return self._keep(previous, f"reload could not read the pointer: {exc}")
            version = pointer.version
            if previous.kind == "xgboost" and previous.version == version:
                if previous.source == "disk-cache" and previous.detail:
                    # Blob answers again: the cached copy is the published version.
                    previous = self._active = replace(previous, detail=None)
                self._pointer_etag = pointer.etag
                self.last_error = None
                return previous
            try:
                candidate = self._load_version(version)
            except Exception as exc:  # whatever went wrong, the previous model keeps serving
                return self._keep(previous, f"refused model {version}: {exc}")
            self._active = candidate  # the swap: one assignment, readers see old or new
            self._pointer_etag = pointer.etag
            self.last_error = None
            log.info(
                "matching_model_swapped",
                previous=f"{previous.kind}:{previous.version}",
                version=candidate.version,
                source=candidate.source,
            )
            return candidate

    # -- following the pointer ----------------------------------------------------------------

    def _schedule_next_look(self) -> None:
        if self.refresh_seconds is not None:
            self._next_look = time.monotonic() + self.refresh_seconds

    def _look_in_background(self) -> None:
        """Start one look at the pointer unless one runs or another request just started it."""
        if not self._look_lock.acquire(blocking=False):
            return
        if time.monotonic() < self._next_look:  # another request started (and ended) one
            self._look_lock.release()
            return
        self._schedule_next_look()
        try:
            threading.Thread(
                target=self._look_then_release, name="model-pointer-look", daemon=True
            ).start()
        except Exception as exc:  # no thread to be had: the next interval tries again
            self._look_lock.release()
            log.error("model_pointer_look_failed", error=f"{type(exc).__name__}: {exc}")

    def _look_then_release(self) -> None:
        try:
            self.look()
        except Exception as exc:  # a background look never takes the process down
            log.error("model_pointer_look_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._look_lock.release()

    def look(self) -> bool:
        """One conditional read of the pointer; reload when it changed. True if it did.

        Unchanged (304) costs no body and no download. An unreadable or absent pointer leaves
        the serving model as it is (the `model_refresh` timer and readiness report store
        failures); the next look is one interval later.
        """
        if not self.enabled or self._active is None:
            return False
        try:
            pointer = self._read_pointer_if_changed(self._pointer_etag)
        except ModelStoreError as exc:
            log.warning("model_pointer_unreadable", error=str(exc))
            return False
        if pointer is None:
            return False
        active = self._active
        if active.kind == "xgboost" and active.version == pointer.version and not active.detail:
            self._pointer_etag = pointer.etag  # rewritten with the same version
            return False
        log.info("model_pointer_changed", serving=active.version, published=pointer.version)
        return self.reload().version == pointer.version

    def _keep(self, previous: ActiveModel, reason: str) -> ActiveModel:
        """Keep serving `previous` after a failed reload (the rules say why); the model kept."""
        log.error("matching_model_reload_failed", serving=previous.version, error=reason)
        self.last_error = reason
        if previous.kind != "xgboost":
            previous = self._active = replace(previous, detail=reason)
        return previous

    def status(self) -> dict[str, Any]:
        active = self.current()
        return {
            "kind": active.kind,
            "version": active.version,
            "metrics": active.metrics,
            "loaded_at": active.loaded_at.isoformat() if active.loaded_at else None,
            "source": active.source,
            "detail": active.detail,
            "last_error": self.last_error,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "location": str(self.location),
            "fallback_enabled": self.fallback_enabled,
            "objective": active.manifest.objective if active.manifest else None,
            "trained_at": active.manifest.trained_at.isoformat() if active.manifest else None,
        }

    def health(self) -> tuple[str, str | None]:
        """(status, detail) for the `matching_model` readiness check."""
        active = self.current()
        if not self.enabled:
            return "disabled", DISABLED_DETAIL
        if active.kind == "xgboost":
            if self.last_error:
                return "degraded", f"serving {active.version}; {self.last_error}"
            return "ok", f"xgboost {active.version} ({active.source})"
        if not self.fallback_enabled:
            return "down", f"no valid model and XGBOOST_MODEL_FALLBACK is false: {active.detail}"
        return "degraded", f"rule fallback serving: {active.detail}"


# -- the process-wide registry ------------------------------------------------------------------

_lock = threading.Lock()
_registry: ModelRegistry | None = None
_registry_settings: object = None
_overrides: dict[str, Any] = {}


def _default_blob_service() -> Any:
    """A client with short timeouts: a slow Blob must not hold a matching request for long."""
    from shared.storage import build_blob_service

    return build_blob_service(connection_timeout=3, read_timeout=20, retry_total=1)


def _invalidate_storage_secret() -> None:
    from shared.secrets import get_secrets

    get_secrets().invalidate("StorageConnectionString")


def configure_model_registry(
    *, cache_root: str | Path | None = None, blob_service_factory: Callable[[], Any] | None = None
) -> None:
    """Override where the disk cache lives or how the Blob client is built (tests, tools)."""
    with _lock:
        if cache_root is not None:
            _overrides["cache_root"] = cache_root
        if blob_service_factory is not None:
            _overrides["blob_service_factory"] = blob_service_factory
    reset_model_registry(keep_overrides=True)


def get_registry() -> ModelRegistry:
    """The process-wide registry; rebuilt if the settings were reloaded (tests, manage.py)."""
    global _registry, _registry_settings  # noqa: PLW0603 - one registry per process
    settings = get_settings()
    registry = _registry
    if registry is not None and _registry_settings is settings:
        return registry
    with _lock:
        if _registry is None or _registry_settings is not settings:
            _registry = ModelRegistry(
                model_path=settings.xgboost_model_path,
                fallback_enabled=settings.xgboost_model_fallback,
                blob_service_factory=_overrides.get("blob_service_factory", _default_blob_service),
                cache_root=_overrides.get("cache_root"),
                on_auth_failure=_invalidate_storage_secret,
                enabled=settings.enable_matching_algorithm,
                refresh_seconds=settings.model_refresh_seconds,
            )
            _registry_settings = settings
        return _registry


def get_active_model() -> ActiveModel:
    """The model to score with (lazy first load); 503 if none and the fallback is off."""
    return get_registry().get()


def reload_model() -> ActiveModel:
    """Re-read the `current` pointer and swap in its version if it is new and valid."""
    return get_registry().reload()


def refresh_model() -> dict[str, Any]:
    """The `model_refresh` timer's work: a reload that never raises; returns the status."""
    try:
        get_registry().reload()
    except Exception as exc:  # the timer must keep running whatever happened
        log.error("model_refresh_failed", error=f"{type(exc).__name__}: {exc}")
    return model_status()


def model_status() -> dict[str, Any]:
    """What `GET /api/admin/model` reports: kind, version, metrics, loaded_at, source, detail."""
    return get_registry().status()


def model_health() -> tuple[str, str | None]:
    """(status, detail) for readiness: ok with a model; degraded on the rule fallback;
    disabled when ENABLE_MATCHING_ALGORITHM is false."""
    return get_registry().health()


def reset_model_registry(*, keep_overrides: bool = False) -> None:
    """Forget the serving model (tests). The disk cache stays, as it does across restarts."""
    global _registry, _registry_settings  # noqa: PLW0603
    with _lock:
        _registry = None
        _registry_settings = None
        if not keep_overrides:
            _overrides.clear()
