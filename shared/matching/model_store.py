"""Where published matching models live, and how they are written and read back verified.

`XGBOOST_MODEL_PATH` is `container/prefix` (default `models/matching`). Under the prefix:

    versions/<version>/model.ubj        the booster, XGBoost's UBJSON format (never pickle)
    versions/<version>/manifest.json    version, feature list, metrics, xgboost version, sha256, ...
    versions/<version>/report/...       the evaluation report (JSON, Markdown, PNG plots)
    current.json                        {"version": ...}: which version serves

Publishing uploads the version's files first and moves `current.json` last, so a reader never
sees a pointer to a version that is not completely there. A version is immutable: publishing the
same version again with different bytes is refused.

Reading checks, in order: the pointer names a version, its manifest parses (its `model_file` a
plain `*.ubj` name, never a path) and is compatible with this code (schema, format,
`FEATURE_NAMES`), the model's sha256 matches the manifest, and XGBoost loads it and can score a
row. Any failure raises a `ModelStoreError` subclass; the registry decides what keeps serving.

`ModelDiskCache` keeps the last verified model on local disk, so a cold start with Blob Storage
unreachable still serves it, and a cold start that finds the same version does not download it.
It reads and writes only inside its directory (a path resolving outside it is refused).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.matching.features import model_columns

if TYPE_CHECKING:
    from azure.storage.blob import ContentSettings

    from shared.matching.scoring import XGBoostScorer

MANIFEST_SCHEMA_VERSION = 1
MODEL_FILE = "model.ubj"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "current.json"
REPORT_DIR = "report"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: A manifest's `model_file`: a plain file name (no separator, no `..`, not absolute) ending in
#: `.ubj`, as training writes it (`model.ubj`). It names a blob and a file in the disk cache.
MODEL_FILE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}\.ubj$"
_CONTENT_TYPES = {
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".ubj": "application/ubjson",
}


class ModelStoreError(Exception):
    """A published model could not be used; the message says why (safe to log)."""


class ModelNotPublishedError(ModelStoreError):
    """No `current.json` (or no container): nothing has been published yet."""


class ModelIntegrityError(ModelStoreError):
    """The bytes are not the ones the manifest describes (sha256 or size mismatch)."""


class ModelIncompatibleError(ModelStoreError):
    """A well-formed model this code cannot serve (other features, format or schema)."""


class StoreUnreachableError(ModelStoreError):
    """Blob Storage did not answer or refused our credentials."""


class Manifest(BaseModel):
    """What a published model is: written beside it, checked before it serves."""

    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: int = MANIFEST_SCHEMA_VERSION
    kind: Literal["xgboost"] = "xgboost"
    version: str = Field(pattern=VERSION_PATTERN)
    format: Literal["ubj"] = "ubj"
    model_file: str = Field(MODEL_FILE, pattern=MODEL_FILE_PATTERN)
    objective: str
    feature_names: list[str]
    metrics: dict[str, Any] = Field(default_factory=dict)
    xgboost_version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=1)
    trained_at: datetime
    published_at: datetime | None = None
    score_calibration: dict[str, Any]
    training: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_version(sha256: str, trained_at: datetime) -> str:
    """Sortable and unique: `20261126T101500Z-1a2b3c4d` (training time, then the model hash)."""
    return f"{trained_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{sha256[:8]}"


def check_compatible(manifest: Manifest) -> None:
    """Raise ModelIncompatibleError unless this code can serve the manifest's model."""
    if manifest.schema_version != MANIFEST_SCHEMA_VERSION:
        raise ModelIncompatibleError(
            f"manifest schema {manifest.schema_version} is not {MANIFEST_SCHEMA_VERSION}"
        )
    # FEATURE_NAMES, or an older model's list without features added since (LATER_FEATURES).
    try:
        model_columns(manifest.feature_names)
    except ValueError as exc:
        raise ModelIncompatibleError(str(exc)) from None


def parse_manifest(data: bytes | str) -> Manifest:
    try:
        return Manifest.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise ModelIncompatibleError(f"invalid manifest: {where}: {first['msg']}") from None


def verify(manifest: Manifest, raw: bytes) -> None:
    """Raise ModelIntegrityError unless `raw` is exactly the model the manifest describes."""
    digest = sha256_hex(raw)
    if digest != manifest.sha256 or len(raw) != manifest.size_bytes:
        raise ModelIntegrityError(
            f"model {manifest.version} fails verification: sha256 {digest[:12]}... "
            f"({len(raw)} bytes) does not match the manifest's {manifest.sha256[:12]}... "
            f"({manifest.size_bytes} bytes)"
        )


def build_scorer(manifest: Manifest, raw: bytes) -> XGBoostScorer:
    """Verify, then load the booster (compatibility and sha256 first, XGBoost last)."""
    from shared.matching.scoring import ScoreCalibration, XGBoostScorer

    check_compatible(manifest)
    verify(manifest, raw)
    try:
        calibration = ScoreCalibration.from_dict(manifest.score_calibration)
        return XGBoostScorer.from_ubj(
            raw,
            version=manifest.version,
            calibration=calibration,
            feature_names=tuple(manifest.feature_names),
        )
    except Exception as exc:  # xgboost raises XGBoostError, ValueError, ... on a bad model
        raise ModelIncompatibleError(
            f"model {manifest.version} could not be loaded: {type(exc).__name__}: {exc}"[:500]
        ) from None


# -- Blob layout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelLocation:
    """`XGBOOST_MODEL_PATH` split into the container and the prefix inside it."""

    container: str
    prefix: str

    @classmethod
    def parse(cls, path: str) -> ModelLocation:
        container, _, prefix = path.strip().strip("/").partition("/")
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])", container or ""):
            raise ValueError(
                f"XGBOOST_MODEL_PATH must start with a valid container name, got {path!r}"
            )
        return cls(container=container, prefix=prefix.strip("/"))

    def blob(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    @property
    def pointer(self) -> str:
        return self.blob(POINTER_FILE)

    def version_blob(self, version: str, name: str) -> str:
        return self.blob("versions", version, name)

    def __str__(self) -> str:
        return f"{self.container}/{self.prefix}" if self.prefix else self.container


@dataclass(frozen=True)
class PublishResult:
    version: str
    container: str
    model_blob: str
    manifest_blob: str
    pointer_blob: str
    report_blobs: list[str] = field(default_factory=list)
    reused: bool = False  # the version was already there with the same bytes


def _content_settings(name: str) -> ContentSettings:
    from azure.storage.blob import ContentSettings

    return ContentSettings(
        content_type=_CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
    )


def _is_not_found(exc: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


def _download(container_client: Any, name: str) -> bytes:
    try:
        return bytes(container_client.download_blob(name).readall())
    except Exception as exc:
        if _is_not_found(exc):
            raise ModelNotPublishedError(f"no blob {name}") from None
        raise StoreUnreachableError(f"reading {name}: {type(exc).__name__}: {exc}"[:500]) from exc


def read_pointer(blob_service: Any, location: ModelLocation) -> str:
    """The version `current.json` names; ModelNotPublishedError when there is none."""
    container = blob_service.get_container_client(location.container)
    try:
        raw = _download(container, location.pointer)
    except ModelNotPublishedError:
        raise ModelNotPublishedError(f"no model is published under {location}") from None
    return _parse_pointer(location, raw)


@dataclass(frozen=True)
class PointerRead:
    """What `current.json` named when it was read, and the blob's ETag at that moment."""

    version: str
    etag: str | None


def _parse_pointer(location: ModelLocation, raw: bytes) -> str:
    try:
        version = str(json.loads(raw)["version"])
    except (ValueError, KeyError, TypeError):
        raise ModelIncompatibleError(f"{location.pointer} is not a valid pointer") from None
    if not re.fullmatch(VERSION_PATTERN, version):
        raise ModelIncompatibleError(f"{location.pointer} names an invalid version {version!r}")
    return version


def read_pointer_if_changed(
    blob_service: Any, location: ModelLocation, etag: str | None = None
) -> PointerRead | None:
    """The pointer and its ETag; None when `etag` is given and the blob still has it.

    One conditional GET (`If-None-Match`): an unchanged pointer costs a 304 without a body.
    ModelNotPublishedError when there is no pointer.
    """
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceNotModifiedError

    container = blob_service.get_container_client(location.container)
    conditions: dict[str, Any] = (
        {"etag": etag, "match_condition": MatchConditions.IfModified} if etag else {}
    )
    try:
        downloader = container.download_blob(location.pointer, **conditions)
        raw = bytes(downloader.readall())
    except ResourceNotModifiedError:
        return None
    except Exception as exc:
        if _is_not_found(exc):
            raise ModelNotPublishedError(f"no model is published under {location}") from None
        raise StoreUnreachableError(
            f"reading {location.pointer}: {type(exc).__name__}: {exc}"[:500]
        ) from exc
    new_etag = getattr(getattr(downloader, "properties", None), "etag", None)
    return PointerRead(_parse_pointer(location, raw), str(new_etag) if new_etag else None)


def fetch_manifest(blob_service: Any, location: ModelLocation, version: str) -> Manifest:
    container = blob_service.get_container_client(location.container)
    manifest = parse_manifest(_download(container, location.version_blob(version, MANIFEST_FILE)))
    if manifest.version != version:
        raise ModelIncompatibleError(
            f"manifest of version {version} says it is version {manifest.version}"
        )
    return manifest


def fetch_model(blob_service: Any, location: ModelLocation, manifest: Manifest) -> bytes:
    """The model's bytes, verified against the manifest (ModelIntegrityError otherwise)."""
    container = blob_service.get_container_client(location.container)
    raw = _download(container, location.version_blob(manifest.version, manifest.model_file))
    verify(manifest, raw)
    return raw


def load_local(model_dir: str | Path) -> tuple[Manifest, bytes]:
    """A trained model directory (train-model's output), verified."""
    directory = Path(model_dir)
    manifest = parse_manifest((directory / MANIFEST_FILE).read_bytes())
    raw = (directory / manifest.model_file).read_bytes()
    verify(manifest, raw)
    check_compatible(manifest)
    return manifest, raw


def publish(blob_service: Any, location: ModelLocation, model_dir: str | Path) -> PublishResult:
    """Upload a trained model directory as a new version, then point `current.json` at it."""
    from azure.core.exceptions import ResourceExistsError

    directory = Path(model_dir)
    manifest, raw = load_local(directory)
    build_scorer(manifest, raw)  # never publish what the registry would refuse
    container = blob_service.get_container_client(location.container)
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    version = manifest.version
    model_blob = location.version_blob(version, manifest.model_file)
    manifest_blob = location.version_blob(version, MANIFEST_FILE)
    reused = False
    try:
        container.upload_blob(
            model_blob, raw, overwrite=False, content_settings=_content_settings(model_blob)
        )
    except ResourceExistsError:
        existing = container.download_blob(model_blob).readall()
        if sha256_hex(existing) != manifest.sha256:
            raise ModelIntegrityError(
                f"version {version} is already published with different bytes; "
                "versions are immutable (train again for a new version)"
            ) from None
        reused = True
    published_at = datetime.now(UTC)
    published = manifest.model_copy(update={"published_at": published_at})
    container.upload_blob(
        manifest_blob,
        published.to_json().encode(),
        overwrite=True,
        content_settings=_content_settings(manifest_blob),
    )
    report_blobs = []
    report_dir = directory / REPORT_DIR
    if report_dir.is_dir():
        for path in sorted(p for p in report_dir.iterdir() if p.is_file()):
            name = location.version_blob(version, f"{REPORT_DIR}/{path.name}")
            container.upload_blob(
                name, path.read_bytes(), overwrite=True, content_settings=_content_settings(name)
            )
            report_blobs.append(name)
    pointer = {"version": version, "published_at": published_at.isoformat()}
    container.upload_blob(
        location.pointer,
        json.dumps(pointer).encode(),
        overwrite=True,
        content_settings=_content_settings(location.pointer),
    )
    return PublishResult(
        version=version,
        container=location.container,
        model_blob=model_blob,
        manifest_blob=manifest_blob,
        pointer_blob=location.pointer,
        report_blobs=report_blobs,
        reused=reused,
    )


def list_versions(blob_service: Any, location: ModelLocation) -> list[str]:
    """Published versions, oldest first (versions sort by training time)."""
    container = blob_service.get_container_client(location.container)
    start = location.blob("versions") + "/"
    found = set()
    try:
        for blob in container.list_blobs(name_starts_with=start):
            found.add(blob.name[len(start) :].split("/", 1)[0])
    except Exception as exc:
        if _is_not_found(exc):
            return []
        raise
    return sorted(found)


# -- local disk cache ---------------------------------------------------------------------------


def default_cache_root() -> Path:
    """Under the system temp directory: writable on Azure Functions (Linux) and locally."""
    return Path(tempfile.gettempdir()) / "neulbomcare-model-cache"


class ModelDiskCache:
    """The last verified model per store, on local disk, written atomically."""

    def __init__(self, root: str | Path, store_key: str):
        key = hashlib.sha256(store_key.encode()).hexdigest()[:16]
        self.directory = Path(root) / key

    def _path(self, *parts: str) -> Path:
        """`directory/parts...`, resolved; ModelIncompatibleError if that leaves the directory
        (a separator, `..` or a link out of it: the manifest's names are checked, this is the
        last line)."""
        root = self.directory.resolve()
        path = root.joinpath(*parts).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ModelIncompatibleError(
                f"{'/'.join(parts)!r} resolves outside the model cache directory"
            )
        return path

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def save(self, manifest: Manifest, raw: bytes) -> None:
        self._write(self._path(manifest.version, manifest.model_file), raw)
        self._write(self._path(manifest.version, MANIFEST_FILE), manifest.to_json().encode())
        self._write(self._path(POINTER_FILE), json.dumps({"version": manifest.version}).encode())

    def cached_version(self) -> str | None:
        try:
            return str(json.loads((self.directory / POINTER_FILE).read_bytes())["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def load(self, version: str | None = None) -> tuple[Manifest, bytes] | None:
        """The cached model (the given version, or the last saved), verified; None if absent."""
        version = version or self.cached_version()
        if not version or not re.fullmatch(VERSION_PATTERN, version):
            return None
        try:
            manifest = parse_manifest(self._path(version, MANIFEST_FILE).read_bytes())
            raw = self._path(version, manifest.model_file).read_bytes()
        except OSError:
            return None
        verify(manifest, raw)
        return manifest, raw
