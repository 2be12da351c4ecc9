"""Upload a trained model directory to Blob Storage (see shared.matching.model_store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.matching.model_store import ModelLocation, PublishResult, publish


def publish_directory(
    model_dir: str | Path, *, blob_service: Any = None, model_path: str | None = None
) -> PublishResult:
    """Publish `model_dir` under `model_path` (default: the `XGBOOST_MODEL_PATH` setting),
    with the app's Blob client (its credentials) unless another is given."""
    if model_path is None:
        from shared.config import get_settings

        model_path = get_settings().xgboost_model_path
    if blob_service is None:
        from shared.storage import get_blob_service

        blob_service = get_blob_service()
    return publish(blob_service, ModelLocation.parse(model_path), model_dir)
