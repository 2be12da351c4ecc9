"""Where the monthly statements live: Blob Storage, container `STATEMENT_CONTAINER`,
`{patient_id}/{YYYY-MM}.json` and `.pdf`, and the short-lived read-only links to them.

As the visit records do (shared.visit_records.store): each file carries the statement's
fingerprint (`content_sha256` metadata); the PDF is written first and the JSON last, so a JSON
whose fingerprint matches means both files are current. Links are SAS tokens for one blob with
read permission only, valid `STATEMENT_LINK_SECONDS`: signed with a user delegation key when the
app reaches Blob with its managed identity, with the account key under a connection string
(Azurite). The container is created on the first write (the app's data role may).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from models.visit_records import RecordFormat
from shared.config import get_settings
from shared.storage import get_blob_service, read_link
from shared.visit_records.store import CONTENT_TYPES


def blob_name(patient_id: int, month: str, fmt: RecordFormat) -> str:
    return f"{patient_id}/{month}.{fmt.value}"


def _container() -> Any:
    return get_blob_service().get_container_client(get_settings().statement_container)


def read_fingerprint(patient_id: int, month: str) -> str | None:
    """The stored JSON's fingerprint, or None when there is none yet."""
    from azure.core.exceptions import ResourceNotFoundError

    blob = _container().get_blob_client(blob_name(patient_id, month, RecordFormat.JSON))
    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        return None
    return (properties.metadata or {}).get("content_sha256")


def write(patient_id: int, month: str, content_sha256: str, pdf: bytes, json_body: bytes) -> None:
    """Write the PDF, then the JSON (module docstring), each with the fingerprint."""
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
    from azure.storage.blob import ContentSettings

    container = _container()
    metadata = {"content_sha256": content_sha256}
    for fmt, body in ((RecordFormat.PDF, pdf), (RecordFormat.JSON, json_body)):
        filename = f"statement-{patient_id}-{month}.{fmt.value}"
        settings = ContentSettings(
            content_type=CONTENT_TYPES[fmt],
            content_disposition=f'attachment; filename="{filename}"',
        )
        blob = container.get_blob_client(blob_name(patient_id, month, fmt))
        try:
            blob.upload_blob(body, overwrite=True, metadata=metadata, content_settings=settings)
        except ResourceNotFoundError:  # the container's first statement
            with contextlib.suppress(ResourceExistsError):
                container.create_container()
            blob.upload_blob(body, overwrite=True, metadata=metadata, content_settings=settings)


def link(
    patient_id: int, month: str, fmt: RecordFormat, now: datetime | None = None
) -> tuple[str, datetime]:
    """A read-only SAS URL of the stored file and when it expires."""
    settings = get_settings()
    return read_link(
        settings.statement_container,
        blob_name(patient_id, month, fmt),
        settings.statement_link_seconds,
        now,
    )
