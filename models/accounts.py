"""Accounts: sign-up, sign-in and the signed-in user (API.md "Accounts")."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from models.common import ApiModel, ResponseModel
from models.vocabularies import Gender, Role

MIN_PASSWORD_LENGTH = 10
#: argon2 hashes any length, but an unbounded password is a cheap way to burn CPU.
MAX_PASSWORD_LENGTH = 256

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(_check_email),
    Field(description="An email address (at most 254 characters).", examples=["kim@example.com"]),
]
Password = Annotated[
    str,
    # Never stripped: spaces are part of a password.
    StringConstraints(
        strip_whitespace=False, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    ),
    Field(description=f"At least {MIN_PASSWORD_LENGTH} characters."),
]
_PHONE = re.compile(r"^01[016789]-[0-9]{3,4}-[0-9]{4}$")


def _check_phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("not a Korean mobile number like 010-1234-5678")
    return value


Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_check_phone),
    Field(description="A Korean mobile number, e.g. 010-1234-5678.", examples=["010-1234-5678"]),
]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RegisterRequest(ApiModel):
    """A new guardian or caregiver account. Operator (`admin`) accounts come from the CLI only."""

    email: Email
    password: Password
    name: PersonName
    phone: Phone | None = None
    role: Literal["guardian", "caregiver"] = Field(
        description="`guardian` or `caregiver`; `admin` accounts are created with the CLI."
    )
    gender: Gender | None = None


class LoginRequest(ApiModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
    password: Annotated[
        str, StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_PASSWORD_LENGTH)
    ]


class User(ResponseModel):
    user_id: int
    email: str
    name: str
    phone: str | None
    role: Role
    gender: Gender | None
    created_at: datetime


class TokenResponse(ResponseModel):
    user: User
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (the scheme, not a secret)
    expires_in: int = Field(description="Seconds until the access token expires.")
