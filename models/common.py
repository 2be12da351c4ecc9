"""Shapes every area shares: the problem document, paging, timestamps."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

#: The largest id or count PostgreSQL's bigint holds: every integer a caller sends is bounded by
#: it (or less), so none reaches a query as "bigint out of range".
BIGINT_MAX = 2**63 - 1


class ApiModel(BaseModel):
    """Base of request bodies: unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(from_attributes=True)


class ProblemFieldError(BaseModel):
    loc: list[str | int] = Field(description='Where the bad value is, e.g. ["body", "email"].')
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is shaped."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    code: str = Field(
        description="bad_request, validation_error, unauthorized, forbidden, not_found, "
        "conflict, rate_limited, unavailable, internal (and payload_too_large, "
        "method_not_allowed)."
    )
    errors: list[ProblemFieldError] | None = None
    request_id: str | None = None


class PageQuery(BaseModel):
    """`?limit=&offset=` of every list."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0, le=BIGINT_MAX)


class Page(ResponseModel, Generic[T]):
    items: list[T]
    total: int
