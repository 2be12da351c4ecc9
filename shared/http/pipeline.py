"""The one place HTTP conventions live: every route's request goes through `handle_http`.

In order: request id and log context; settings and logging; allowed hosts (staging and
production); CORS; body size cap (413); authentication of non-public routes (401); JSON parsing
(400) and validation of path, query and body (422); the handler; errors mapped to problem+json;
response headers (X-Request-ID, CORS, no-sniff, no-store unless the handler caches); one
access-log line. Authentication, validation and the handler run inside the request's one unit of
work: the token's user is read as the first statement of the transaction the handler then uses
(one pooled connection, one transaction per request).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.auth import authentication
from shared.auth.principal import Actor, Principal
from shared.config import Settings, get_settings
from shared.db import ConnectionLostError, Cursor
from shared.errors import (
    AppError,
    BadRequestError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationFailedError,
)
from shared.http.cors import response_headers as cors_headers
from shared.http.request import ApiRequest, ApiResponse
from shared.http.route_spec import RouteSpec
from shared.observability import bind_context, clear_context, configure_logging, get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger("http")

PROBLEM_CONTENT_TYPE = "application/problem+json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_MAX_ID = 2**63 - 1
#: No request body of this API nests deeper than a few levels; a deeper one is refused (400)
#: before validation, which would otherwise recurse once per level.
MAX_JSON_DEPTH = 32


def handle_http(spec: RouteSpec, req: func.HttpRequest) -> func.HttpResponse:
    """Run one request through the conventions and the route's handler."""
    started = time.perf_counter()
    headers = _lower_headers(req.headers)
    # The request's id is ours: it names the request in logs, problem documents and audit
    # events. The caller's own X-Request-ID is kept apart, for the caller's correlation only.
    request_id = uuid.uuid4().hex
    client_request_id = _client_request_id(headers)
    clear_context()
    bind_context(request_id=request_id, function=spec.name)
    extra_headers: dict[str, str] = {}
    if client_request_id is not None:
        bind_context(client_request_id=client_request_id)
        extra_headers["X-Client-Request-ID"] = client_request_id
    client_ip: str | None = None
    try:
        settings = get_settings()
        client_ip = _client_ip(headers, settings.trusted_proxy_hops)
        configure_logging(settings)
        _check_host(settings, headers)
        extra_headers.update(cors_headers(settings, headers.get("origin")))
        response = _to_response(
            spec, _run_handler(spec, req, headers, request_id, settings, client_ip)
        )
    except AppError as exc:
        response = problem_response(exc, request_id)
    except Exception:
        log.exception("unhandled_error", method=req.method, route=spec.path)
        response = problem_response(
            AppError(f"An unexpected error occurred. Quote request id {request_id}."),
            request_id,
        )
    response.headers = {**extra_headers, **response.headers}
    result = _finish(response, request_id, spec.response_adapter)
    # Server errors at WARNING, so the daily error-rate query can filter on level.
    access_log = log.warning if result.status_code >= 500 else log.info
    access_log(
        "http_request",
        method=req.method,
        route=spec.path,
        status=result.status_code,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        client_ip=client_ip,
    )
    clear_context()
    return result


#: Methods whose handlers only read (audit events aside): run again once on a fresh connection
#: when the first one was lost before anything was committed.
_RETRIED_METHODS = frozenset({"GET", "HEAD"})


def _run_handler(
    spec: RouteSpec,
    req: func.HttpRequest,
    headers: Mapping[str, str],
    request_id: str,
    settings: Settings,
    client_ip: str | None,
) -> Any:
    """Authentication, validation and the handler inside the request's unit of work: committed
    when the handler returns, rolled back when anything raises (integrity errors become 422/409
    there, a lost connection a 503 with Retry-After). A GET whose connection was lost before any
    commit runs once more, authentication included, in a new unit of work on another
    connection."""
    retry = req.method.upper() in _RETRIED_METHODS
    while True:
        uow = UnitOfWork(None)
        try:
            with uow:
                request = _parse(spec, req, headers, request_id, settings, client_ip, uow)
                request.work = uow
                return spec.handler(request)
        except ConnectionLostError:
            if not retry or uow.commit_attempted:
                raise
            retry = False
            log.warning("db_connection_lost_retrying", method=req.method, route=spec.path)


def authenticate(request: ApiRequest, uow: UnitOfWork) -> Principal:
    """The caller of a non-public route, from its bearer token (401 when there is none or it
    is refused), its user read as the first statement of the request's unit of work. A token
    that is not even well signed is refused before any connection is borrowed."""
    claims = authentication.bearer_claims(request.header("authorization"))

    def check(cur: Cursor) -> Actor:
        principal = authentication.principal_for(cur, claims)
        return Actor(principal, request.request_id, request.client_ip)

    principal = uow.authenticate(check).principal
    bind_context(user_id=principal.user_id)
    return principal


# -- parsing ---------------------------------------------------------------------------------


def _parse(
    spec: RouteSpec,
    req: func.HttpRequest,
    headers: Mapping[str, str],
    request_id: str,
    settings: Settings,
    client_ip: str | None,
    uow: UnitOfWork,
) -> ApiRequest:
    body_bytes = _read_body(req, headers, settings.max_request_body_bytes)
    request = ApiRequest(
        method=req.method.upper(),
        path=_url_path(req.url),
        route=spec.path,
        function_name=spec.name,
        headers=headers,
        request_id=request_id,
        client_ip=client_ip,
    )
    if not spec.public:
        # Before any validation: an anonymous caller learns nothing about the route's inputs,
        # and a caller whose role may never use the route is refused before its input is read.
        request.principal = authenticate(request, uow)
        if spec.roles is not None and str(request.principal.role) not in spec.roles:
            allowed = " or ".join(sorted(spec.roles))
            raise ForbiddenError(f"Only a {allowed} account may do this.")
    errors: list[FieldError] = []
    request.path_params = _path_params(spec, req.route_params or {})
    errors += _nul_characters(dict(req.params or {}), ("query",))
    query = None
    if spec.query is not None:
        query, query_errors = _validate(spec.query, dict(req.params or {}), "query")
        errors += query_errors
    body = None
    if spec.body is not None:
        document = _json(body_bytes)
        nul_errors = _nul_characters(document, ("body",))
        body, body_errors = _validate(spec.body, document, "body") if not nul_errors else (None, [])
        errors += nul_errors + body_errors
    if errors:
        raise ValidationFailedError(errors)
    request.query, request.body = query, body
    return request


def _read_body(req: func.HttpRequest, headers: Mapping[str, str], limit: int) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The request body exceeds {limit} bytes.")
    body = req.get_body() or b""
    if len(body) > limit:
        raise PayloadTooLargeError(f"The request body exceeds {limit} bytes.")
    return body


def _json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequestError("A JSON request body is required.")
    try:
        document = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise _too_deep() from None
    except UnicodeDecodeError as exc:
        raise BadRequestError("The request body is not valid UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise BadRequestError(
            f"The request body is not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from exc
    if _depth(document) > MAX_JSON_DEPTH:
        raise _too_deep()
    return document


def _depth(document: Any) -> int:
    """How deeply arrays and objects nest in a parsed document (iteratively: no recursion)."""
    deepest, pending = 0, [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep() -> BadRequestError:
    return BadRequestError(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")


def _validate(
    model: type[BaseModel], data: Any, where: str
) -> tuple[BaseModel | None, list[FieldError]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [
            FieldError(loc=(where, *error["loc"]), msg=error["msg"]) for error in exc.errors()
        ]


def _nul_characters(data: Any, loc: tuple[str | int, ...]) -> list[FieldError]:
    """Strings holding NUL characters, which no field accepts (PostgreSQL text cannot hold
    them), reported where they are instead of failing deep inside a query."""
    if isinstance(data, str):
        return (
            [FieldError(loc=loc, msg="must not contain NUL characters")] if "\x00" in data else []
        )
    if isinstance(data, dict):
        found = [
            FieldError(loc=(*loc, key), msg="must not contain NUL characters")
            for key in data
            if isinstance(key, str) and "\x00" in key
        ]
        for key, value in data.items():
            found += _nul_characters(value, (*loc, key))
        return found
    if isinstance(data, list):
        return [e for i, item in enumerate(data) for e in _nul_characters(item, (*loc, i))]
    return []


def _path_params(spec: RouteSpec, raw: Mapping[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, kind in spec.path_params.items():
        value = raw.get(name)
        if value is None:
            continue
        if kind is int:
            try:
                number = int(value)
            except ValueError:
                number = -1
            if not 0 < number <= _MAX_ID:
                # Ids are positive bigints; anything else cannot name a resource.
                raise NotFoundError(f"No resource has {name} {value!r}.")
            params[name] = number
        else:
            params[name] = value
    return params


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _client_request_id(headers: Mapping[str, str]) -> str | None:
    """The caller's X-Request-ID when it is a sane token (echoed as X-Client-Request-ID)."""
    given = headers.get("x-request-id", "").strip()
    return given if _REQUEST_ID.match(given) else None


def _client_ip(headers: Mapping[str, str], trusted_hops: int) -> str | None:
    """The caller's address as the platform's front end saw it: the X-Forwarded-For entry
    `trusted_hops` places from the right (what our own proxies appended), port removed. The
    entries left of it are whatever the caller sent, and are never taken as its address."""
    entries = [e.strip() for e in headers.get("x-forwarded-for", "").split(",") if e.strip()]
    if len(entries) < trusted_hops:
        return None
    forwarded = entries[-trusted_hops]
    candidate = forwarded
    if forwarded.startswith("["):  # [ipv6]:port
        candidate = forwarded[1:].split("]")[0]
    elif forwarded.count(":") == 1:  # ipv4:port
        candidate = forwarded.split(":")[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _url_path(url: str) -> str:
    path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "", url)
    return path.split("?", 1)[0] or "/"


def _check_host(settings: Settings, headers: Mapping[str, str]) -> None:
    if not settings.is_deployed or "*" in settings.allowed_hosts:
        return
    host = headers.get("host", "").rsplit(":", 1)[0].strip("[]").lower()
    for allowed in (name.lower() for name in settings.allowed_hosts):
        if host == allowed or (allowed.startswith(".") and host.endswith(allowed)):
            return
    raise BadRequestError("The Host header names a host this API does not serve.")


# -- responses -------------------------------------------------------------------------------


def _to_response(spec: RouteSpec, result: Any) -> ApiResponse:
    if isinstance(result, ApiResponse):
        return result
    if result is None:
        return ApiResponse(status=204)
    return ApiResponse(body=result, status=spec.status)


def _serialise(spec_adapter: TypeAdapter[Any] | None, body: Any) -> bytes:
    if isinstance(body, BaseModel):
        return body.model_dump_json().encode("utf-8")
    if spec_adapter is not None:
        return spec_adapter.dump_json(spec_adapter.validate_python(body))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def problem_body(exc: AppError, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:neulbomcare:problem:{exc.code}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "code": exc.code,
        "request_id": request_id,
    }
    if isinstance(exc, ValidationFailedError):
        body["errors"] = [error.as_dict() for error in exc.errors]
    return body


def problem_response(exc: AppError, request_id: str) -> ApiResponse:
    return ApiResponse(
        body=problem_body(exc, request_id),
        status=exc.status,
        headers=dict(exc.headers),
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _finish(
    response: ApiResponse, request_id: str, adapter: TypeAdapter[Any] | None
) -> func.HttpResponse:
    headers = {
        "X-Request-ID": request_id,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        **response.headers,
    }
    if response.status in (204, 304) or response.body is None:
        return func.HttpResponse(status_code=response.status, headers=headers)
    if response.status >= 400:
        adapter = None  # problem documents are not the route's response model
    try:
        payload = _serialise(adapter, response.body)
    except Exception:
        log.exception("response_serialisation_failed")
        payload = json.dumps(
            problem_body(AppError("An unexpected error occurred."), request_id)
        ).encode()
        response = ApiResponse(status=500, content_type=PROBLEM_CONTENT_TYPE)
    headers["Content-Type"] = f"{response.content_type}; charset=utf-8"
    return func.HttpResponse(body=payload, status_code=response.status, headers=headers)
