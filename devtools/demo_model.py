"""A demo matching model for `make run`: trained in seconds on simulated history, published to
the local Blob Storage (Azurite), so a newcomer's first matching request says `kind: xgboost`.

Deterministic: the same seed gives the same history and the same trees. Idempotent: when a
compatible model is already published under the path, nothing is trained.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

from shared.matching.model_store import (
    ModelLocation,
    ModelStoreError,
    check_compatible,
    fetch_manifest,
    publish,
    read_pointer,
)

DEMO_REQUESTS = 1500
DEMO_SEED = 20261126


def _service(storage: Any) -> Any:
    if isinstance(storage, str):
        from azure.storage.blob import BlobServiceClient

        from shared.storage import expand_connection_string

        return BlobServiceClient.from_connection_string(expand_connection_string(storage))
    return storage


def published_version(storage: Any, path: str) -> str | None:
    """The compatible version published under `path`, or None (nothing, or unusable)."""
    service, location = _service(storage), ModelLocation.parse(path)
    try:
        version = read_pointer(service, location)
        check_compatible(fetch_manifest(service, location, version))
    except ModelStoreError:
        return None
    return version


def ensure_demo_model(
    storage: Any,
    path: str = "models/matching",
    *,
    requests: int = DEMO_REQUESTS,
    seed: int = DEMO_SEED,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The published version under `path`, training and publishing a demo model if needed.

    `storage` is a connection string (`UseDevelopmentStorage=true` works) or a BlobServiceClient.
    """
    from training.pipeline import train_and_write

    service = _service(storage)
    existing = published_version(service, path)
    if existing is not None:
        return existing
    with tempfile.TemporaryDirectory(prefix="demo-model-") as directory:
        train_and_write(
            directory, requests=requests, seed=seed, progress=progress or (lambda _m: None)
        )
        return publish(service, ModelLocation.parse(path), directory).version
