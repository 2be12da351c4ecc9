"""`Idempotency-Key`: a write sent again with the same key gets its first answer again.

An offline phone queues its check-ins, check-outs and care-log writes and replays the queue when
it is back online, perhaps more than once. With `Idempotency-Key: <8-200 visible ASCII
characters>` on such a request:

- the first request with a key claims it (a row in `idempotency_keys`, per user) as the first
  statement of its work, does the work, and stores its answer (status and body) in the SAME
  transaction: if the work fails, the claim is rolled back with it and nothing is remembered
  (a refused request wrote nothing; sending it again is judged again);
- a request with a key already answered, and the same request (a hash of method, path and the
  validated body), gets the stored answer with `Idempotent-Replayed: true`, and the work is not
  done again;
- the same key with a different request is refused: 422 `idempotency_key_reused`;
- two requests with one key at the same time take turns: the second's claim (an INSERT ... ON
  CONFLICT) waits for the first's transaction, then finds its answer.

Keys older than `IDEMPOTENCY_KEY_TTL_HOURS` are forgotten: a new request may claim them again,
and the weekly maintenance (shared.operations.maintenance) deletes them (`prune_expired`).

Use it from a route handler: `return respond_once(request, lambda: service.f(...), status=201)`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psycopg2.extras import Json
from pydantic import BaseModel

from shared.audit import AuditAction
from shared.config import get_settings
from shared.db import Cursor
from shared.errors import AppError, ConflictError, FieldError, ValidationFailedError

if TYPE_CHECKING:
    from shared.http.request import ApiRequest, ApiResponse

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[!-~]{8,200}$")
#: status_code of a claim whose work has not finished (never visible outside its transaction).
_CLAIMED = 0


class IdempotencyKeyReusedError(AppError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency Key Reused"


def request_hash(method: str, path: str, body: BaseModel | None) -> str:
    """What makes two requests "the same": method, path and the validated body's fields as
    sent (an explicit null differs from an absent field)."""
    document = body.model_dump(mode="json", exclude_unset=True) if body is not None else None
    canonical = json.dumps(
        [method.upper(), path, document], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_key(value: str | None) -> str | None:
    """The header's key, or None without one; 422 naming the header when it is malformed."""
    if value is None:
        return None
    if not _KEY.match(value):
        raise ValidationFailedError(
            [FieldError(loc=("header", HEADER), msg="must be 8-200 visible ASCII characters")]
        )
    return value


def respond_once(
    request: ApiRequest, work: Callable[[], BaseModel], *, status: int = 200
) -> ApiResponse:
    """Do `work` (the route's one service call) once per key; see the module docstring."""
    from shared.http.request import ApiResponse

    key = parse_key(request.header(HEADER))
    if key is None:
        return ApiResponse(body=work(), status=status)
    uow = request.uow
    cur = uow.cursor
    user_id = uow.principal.user_id
    digest = request_hash(request.method, request.path, request.body)
    if not claim(cur, user_id, key, digest, ttl_hours=get_settings().idempotency_key_ttl_hours):
        stored = stored_answer(cur, user_id, key)
        if stored is None:  # pragma: no cover - claimed rows are deleted only when expired
            raise ConflictError("This Idempotency-Key was just released; send the request again.")
        stored_hash, stored_status, stored_body = stored
        if stored_hash != digest:
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was used for a different request; use a new key for "
                "each new request."
            )
        if stored_status == _CLAIMED:  # pragma: no cover - a claim commits with its answer
            raise ConflictError("The first request with this Idempotency-Key is still running.")
        patient_id = stored_body.get("patient_id") if isinstance(stored_body, dict) else None
        uow.audit(
            AuditAction.VIEW,
            "idempotent_replay",
            patient_id=patient_id if isinstance(patient_id, int) else None,
            resource_id=request.path,
        )
        return ApiResponse(
            body=stored_body, status=stored_status, headers={REPLAYED_HEADER: "true"}
        )
    result = work()
    save_answer(cur, user_id, key, status, result.model_dump(mode="json"))
    return ApiResponse(body=result, status=status)


# -- SQL -------------------------------------------------------------------------------------


def claim(cur: Cursor, user_id: int, key: str, digest: str, *, ttl_hours: int) -> bool:
    """Claim the key for this request (True), or find it answered (False). An expired key is
    claimed afresh. Waits while another transaction holds an uncommitted claim of it."""
    cur.execute(
        """
        INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, status_code)
        VALUES (%(user_id)s, %(key)s, %(hash)s, %(claimed)s)
        ON CONFLICT (user_id, idempotency_key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code,
                response_body = NULL, created_at = now()
            WHERE idempotency_keys.created_at < now() - make_interval(hours => %(ttl)s)
        RETURNING user_id
        """,
        {"user_id": user_id, "key": key, "hash": digest, "claimed": _CLAIMED, "ttl": ttl_hours},
    )
    return cur.fetchone() is not None


def stored_answer(cur: Cursor, user_id: int, key: str) -> tuple[str, int, Any] | None:
    cur.execute(
        """
        SELECT request_hash, status_code, response_body FROM idempotency_keys
        WHERE user_id = %(user_id)s AND idempotency_key = %(key)s
        """,
        {"user_id": user_id, "key": key},
    )
    row = cur.fetchone()
    if row is None:
        return None
    return row["request_hash"], int(row["status_code"]), row["response_body"]


def save_answer(cur: Cursor, user_id: int, key: str, status: int, body: Any) -> None:
    cur.execute(
        """
        UPDATE idempotency_keys SET status_code = %(status)s, response_body = %(body)s
        WHERE user_id = %(user_id)s AND idempotency_key = %(key)s
        """,
        {"user_id": user_id, "key": key, "status": status, "body": Json(body)},
    )


def prune_expired(cur: Cursor, *, ttl_hours: int | None = None) -> int:
    """Delete keys older than the TTL; how many."""
    hours = ttl_hours if ttl_hours is not None else get_settings().idempotency_key_ttl_hours
    cur.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %(h)s)",
        {"h": hours},
    )
    return int(cur.rowcount)
