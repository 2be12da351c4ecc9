"""Where the monthly visit records live: Blob Storage, container `VISIT_RECORD_CONTAINER`,
`{patient_id}/{YYYY-MM}.json` and `.pdf`, and the short-lived read-only links to them.

Each file carries the record's fingerprint (`content_sha256` metadata). The PDF is written
first and the JSON last, so a JSON whose fingerprint matches the record means both files are
current (a writer that died between the two leaves a stale JSON, which the next reader rewrites).

The monthly job keeps how far it got with a month in `_runs/{YYYY-MM}.json`, so a run stopped
by its time budget is continued by the next one, on any instance.

Links are SAS tokens for one blob with read permission only, valid `VISIT_RECORD_LINK_SECONDS`:
signed with a user delegation key when the app reaches Blob with its managed identity
(`STORAGE_ACCOUNT_URL`; the identity needs "Storage Blob Delegator" on the account, which the
data role it has includes), and with the account key when it uses a connection string (Azurite,
local development).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models.visit_records import RecordFormat
from shared.config import get_settings
from shared.storage import get_blob_service, read_link

CONTENT_TYPES = {
    RecordFormat.JSON: "application/json; charset=utf-8",
    RecordFormat.PDF: "application/pdf",
}
#: The monthly job's progress per month, beside the records (patient folders are numbers).
PROGRESS_PREFIX = "_runs/"


@dataclass(frozen=True)
class StoredRecord:
    content_sha256: str | None
    body: bytes


def blob_name(patient_id: int, month: str, fmt: RecordFormat) -> str:
    return f"{patient_id}/{month}.{fmt.value}"


def _container() -> Any:
    service = get_blob_service()
    return service.get_container_client(get_settings().visit_record_container)


def _ensure_container(container: Any) -> None:
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        container.create_container()


def read_json(patient_id: int, month: str) -> StoredRecord | None:
    """The stored JSON and its fingerprint, or None when there is none yet."""
    from azure.core.exceptions import ResourceNotFoundError

    blob = _container().get_blob_client(blob_name(patient_id, month, RecordFormat.JSON))
    try:
        downloader = blob.download_blob()
        body = downloader.readall()
    except ResourceNotFoundError:
        return None
    metadata = downloader.properties.metadata or {}
    return StoredRecord(content_sha256=metadata.get("content_sha256"), body=body)


def write(patient_id: int, month: str, content_sha256: str, pdf: bytes, json_body: bytes) -> None:
    """Write the PDF, then the JSON (module docstring), each with the fingerprint."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import ContentSettings

    container = _container()
    metadata = {"content_sha256": content_sha256}
    for fmt, body in ((RecordFormat.PDF, pdf), (RecordFormat.JSON, json_body)):
        name = blob_name(patient_id, month, fmt)
        filename = f"visit-record-{patient_id}-{month}.{fmt.value}"
        settings = ContentSettings(
            content_type=CONTENT_TYPES[fmt],
            content_disposition=f'attachment; filename="{filename}"',
        )
        blob = container.get_blob_client(name)
        try:
            blob.upload_blob(body, overwrite=True, metadata=metadata, content_settings=settings)
        except ResourceNotFoundError:  # the container's first record
            _ensure_container(container)
            blob.upload_blob(body, overwrite=True, metadata=metadata, content_settings=settings)


def _progress_blob(month: str) -> Any:
    return _container().get_blob_client(f"{PROGRESS_PREFIX}{month}.json")


def read_progress(month: str) -> dict[str, Any] | None:
    """How far the monthly job got with `month` ({"after": patient_id, "completed": bool})."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return dict(json.loads(_progress_blob(month).download_blob().readall()))
    except ResourceNotFoundError:
        return None


def write_progress(month: str, progress: dict[str, Any]) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    body = json.dumps({**progress, "updated_at": datetime.now(UTC).isoformat()})
    blob = _progress_blob(month)
    try:
        blob.upload_blob(body, overwrite=True)
    except ResourceNotFoundError:  # the container's first write
        _ensure_container(_container())
        blob.upload_blob(body, overwrite=True)


def link(
    patient_id: int, month: str, fmt: RecordFormat, now: datetime | None = None
) -> tuple[str, datetime]:
    """A read-only SAS URL of the stored file and when it expires."""
    settings = get_settings()
    return read_link(
        settings.visit_record_container,
        blob_name(patient_id, month, fmt),
        settings.visit_record_link_seconds,
        now,
    )
