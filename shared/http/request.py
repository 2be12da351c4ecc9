"""What a handler receives and may return: plain objects, no azure.functions types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.auth.principal import Actor, Principal

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork


@dataclass
class ApiRequest:
    """A parsed, validated request. Handlers read only this."""

    method: str
    path: str
    route: str
    function_name: str
    headers: Mapping[str, str]
    request_id: str
    client_ip: str | None = None
    path_params: dict[str, Any] = field(default_factory=dict)
    query: Any = None
    body: Any = None
    principal: Principal | None = None
    work: UnitOfWork | None = None

    @property
    def actor(self) -> Actor:
        """The authenticated caller with this request's id and address (for audit events)."""
        if self.principal is None:
            raise RuntimeError("actor of a public route: there is no authenticated caller")
        return Actor(self.principal, self.request_id, self.client_ip)

    @property
    def user(self) -> Principal:
        """The authenticated caller (non-public routes always have one)."""
        if self.principal is None:
            raise RuntimeError("user of a public route: there is no authenticated caller")
        return self.principal

    @property
    def uow(self) -> UnitOfWork:
        """This request's unit of work (transaction, caller, authorization, audit), built by
        the pipeline around the handler."""
        if self.work is None:
            raise RuntimeError("the request has no unit of work outside the pipeline")
        return self.work

    def header(self, name: str) -> str | None:
        """A request header by name, case-insensitively (the pipeline lower-cases them)."""
        return self.headers.get(name.lower())


@dataclass
class ApiResponse:
    """An explicit response, when a handler needs a status or headers of its own."""

    body: BaseModel | dict[str, Any] | list[Any] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
