"""Who is calling: the signed-in user (`Principal`) and, for audit, from where (`Actor`)."""

from __future__ import annotations

from dataclasses import dataclass

from models.vocabularies import Role


@dataclass(frozen=True)
class Principal:
    """An authenticated, active user, as loaded from the database for this request."""

    user_id: int
    role: Role
    email: str
    name: str


@dataclass(frozen=True)
class Actor:
    """A principal plus the request it acts through: what an audit event records."""

    principal: Principal
    request_id: str | None = None
    client_ip: str | None = None

    @property
    def user_id(self) -> int:
        return self.principal.user_id

    @property
    def role(self) -> Role:
        return self.principal.role
