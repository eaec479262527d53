"""The session login of both admins (`/login/`, `/admin/login/`) with SPEC §10's protection:
Django's ModelBackend, with the block checked before the password is hashed, the password check
holding one of the client's hashing slots, and failures counted like the API's. A refused
attempt leaves its Throttled on the request, for core.login_views to answer 429."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from authapi import protection
from core.clientip import client_ip
from core.errors import Throttled
from core.observability import metrics
from core.tenancy import current_schema_name

__all__ = ["ProtectedModelBackend"]


class ProtectedModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None or username is None or password is None:
            return super().authenticate(request, username, password, **kwargs)
        schema, ip = current_schema_name(), client_ip(request)
        try:
            protection.login_check(schema=schema, login=username, ip=ip)
            with protection.hashing_slot(schema=schema):
                user = super().authenticate(request, username, password, **kwargs)
        except Throttled as exc:
            metrics.login_counted("throttled")
            request.login_throttled = exc  # type: ignore[attr-defined]
            raise PermissionDenied from None  # stops django.contrib.auth.authenticate
        if user is None:
            protection.login_failed(schema=schema, login=username, ip=ip)
            metrics.login_counted("failure")
        else:
            protection.login_succeeded(schema=schema, login=username, ip=ip)
            metrics.login_counted("success")
        return user
