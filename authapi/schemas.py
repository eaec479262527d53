"""Request and response shapes of SPEC §3: one In/Out pair per operation, explicit fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import field_validator
from pydantic_core import PydanticCustomError

from authapi.models import Role
from core.errors import NUL_MESSAGE

__all__ = [
    "AccountOut",
    "ApiTokenCreateIn",
    "ApiTokenCreatedOut",
    "ApiTokenOut",
    "AuditEventOut",
    "AuthTestOut",
    "CookieLoginOut",
    "CookieRefreshOut",
    "CookieRegisterOut",
    "CsrfOut",
    "DetailOut",
    "EmptyOut",
    "ErrorOut",
    "FieldErrorOut",
    "In",
    "LoginIn",
    "LogoutAllOut",
    "LogoutIn",
    "PasswordChangeIn",
    "RefreshIn",
    "RegisterIn",
    "RegisterOut",
    "SessionOut",
    "TokenPairOut",
    "TokenRefreshOut",
    "UserOut",
    "VerifyIn",
]

# Bounds keep hashing and decoding work per request small whatever a client sends.
_TOKEN = Field(..., min_length=1, max_length=4096)


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    code: str
    errors: list[FieldErrorOut] | None = None


class In(Schema):
    """Base of every request body: a NUL character in any text field is invalid input on that
    field, as in Django's form fields (PostgreSQL text cannot hold one)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("null_character", NUL_MESSAGE)
        return value


class LoginIn(In):
    username: str = Field(..., min_length=1, max_length=254, description="username or email")
    password: str = Field(..., min_length=1, max_length=4096)


class TokenPairOut(Schema):
    """From services.IssuedTokens."""

    access: str
    refresh: str
    user_id: int = Field(..., alias="user.pk")
    username: str = Field(..., alias="user.username")
    email: str = Field(..., alias="user.email")
    role: str = Field(..., alias="user.role")
    client_id: int = Field(..., alias="client.pk")
    client_name: str = Field(..., alias="client.name")


class RefreshIn(In):
    refresh: str = _TOKEN


class TokenRefreshOut(Schema):
    access: str
    refresh: str


class VerifyIn(In):
    token: str = _TOKEN


class EmptyOut(Schema):
    pass


class LogoutIn(In):
    # Optional only for a logout made with `Authorization: Token …` (it deletes that key).
    refresh: str | None = Field(None, min_length=1, max_length=4096)


class DetailOut(Schema):
    detail: str


class PasswordChangeIn(In):
    old_password: str = Field(..., min_length=1, max_length=4096)
    new_password: str = Field(
        ..., min_length=1, max_length=4096, json_schema_extra={"minLength": 8}
    )


class LogoutAllOut(Schema):
    detail: str
    revoked: int


class SessionOut(Schema):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str | None
    current: bool

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return str(obj.pk)

    @staticmethod
    def resolve_current(obj: Any, context: dict[str, Any]) -> bool:
        return str(obj.pk) == getattr(context["request"], "session_id", None)


class RegisterIn(In):
    # The documented constraints are the ones the route enforces (Django's username and email
    # validators, the password validators' minimum length); the route checks them itself so
    # that each refusal carries Django's own message.
    username: str = Field(
        ...,
        min_length=1,
        max_length=150,
        description="Letters, digits and @ . + - _ only",
        json_schema_extra={"pattern": r"^[\w.@+-]+$"},
    )
    email: str = Field(..., min_length=3, max_length=254, json_schema_extra={"format": "email"})
    password: str = Field(
        ...,
        min_length=1,
        max_length=4096,
        description=(
            "Checked by the tenant's password validators: at least 8 characters, not entirely "
            "numeric, not a common password, not too similar to the username or email"
        ),
        json_schema_extra={"minLength": 8},
    )
    role: str | None = Field(
        None,
        max_length=32,
        description="customer (default), staff or admin (staff and admin need an admin's token)",
        json_schema_extra={"enum": [*Role.values, None]},
    )
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)


class RegisterOut(TokenPairOut):
    detail: str = "User registered successfully"


class UserOut(Schema):
    """From the request's user; the client is the request's tenant."""

    user_id: int = Field(..., alias="pk")
    username: str
    email: str
    first_name: str
    last_name: str
    role: str
    client_id: int
    client_name: str
    is_active: bool
    date_joined: datetime
    last_login: datetime | None

    @staticmethod
    def resolve_client_id(obj: object, context: dict[str, Any]) -> int:
        return int(context["request"].tenant.pk)

    @staticmethod
    def resolve_client_name(obj: object, context: dict[str, Any]) -> str:
        return str(context["request"].tenant.name)


class AuthTestOut(Schema):
    message: str
    authenticated: bool
    user: str


class AccountOut(Schema):
    user_id: int = Field(..., alias="pk")
    username: str
    email: str
    role: str
    is_active: bool
    date_joined: datetime


class ApiTokenCreateIn(In):
    """With a Bearer: `name` (and `expires_in_days`). Without credentials: `username` and
    `password` as at login (DRF's obtain-token), `name` optional."""

    name: str | None = Field(None, min_length=1, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    username: str | None = Field(None, min_length=1, max_length=254)
    password: str | None = Field(None, min_length=1, max_length=4096)


class ApiTokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiTokenCreatedOut(Schema):
    """From api_tokens.IssuedApiToken: `token` is shown here only, never again."""

    id: int = Field(..., alias="record.pk")
    name: str = Field(..., alias="record.name")
    token: str = Field(..., alias="key")
    prefix: str = Field(..., alias="record.prefix")
    created_at: datetime = Field(..., alias="record.created_at")
    expires_at: datetime | None = Field(None, alias="record.expires_at")


class CookieRefreshOut(Schema):
    access_expires_at: datetime
    csrf_token: str = Field(..., description="For the X-CSRFToken header of unsafe requests")


class CookieLoginOut(CookieRefreshOut):
    """The login response without the tokens, which are in HttpOnly cookies."""

    user_id: int
    username: str
    email: str
    role: str
    client_id: int
    client_name: str


class CookieRegisterOut(CookieLoginOut):
    detail: str = "User registered successfully"


class CsrfOut(Schema):
    csrf_token: str


class AuditEventOut(Schema):
    id: int
    at: datetime
    event: str
    user_id: int | None
    username: str
    ip: str | None
    user_agent: str
    session_id: str | None
    detail: dict[str, Any]

    @staticmethod
    def resolve_session_id(obj: Any) -> str | None:
        return str(obj.session_id) if obj.session_id else None
