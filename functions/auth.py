"""Accounts: register, sign in, and who am I."""

from __future__ import annotations

from models.accounts import LoginRequest, RegisterRequest, TokenResponse, User
from shared.auth import accounts
from shared.http import Api, ApiRequest

api = Api(tag="accounts")
bp = api.blueprint


@api.route(
    "POST",
    "api/auth/register",
    name="auth_register",
    public=True,
    body=RegisterRequest,
    response=TokenResponse,
    status=201,
    errors=(409, 422, 503),
)
def register(request: ApiRequest) -> TokenResponse:
    """Create a guardian or caregiver account and return an access token."""
    return accounts.register(request.uow, request.body)


@api.route(
    "POST",
    "api/auth/login",
    name="auth_login",
    public=True,
    body=LoginRequest,
    response=TokenResponse,
    errors=(401, 422, 429, 503),
)
def login(request: ApiRequest) -> TokenResponse:
    """Sign in with email and password (429 or 503 with Retry-After when throttled or busy).

    Throttled per account and client address, per account and per client address (see
    docs/api.md); 503 while too many sign-ins are being checked at once.
    """
    return accounts.login(request.uow, request.body, client_ip=request.client_ip)


@api.route("GET", "api/auth/me", name="auth_me", response=User)
def me(request: ApiRequest) -> User:
    """The signed-in user."""
    return accounts.current_user(request.uow)
