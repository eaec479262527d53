"""The tenant check a team adds to SimpleJWT by hand (kept apart from the views: DRF imports the
authentication class while the views module is still loading)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken


def check_client(token: Any) -> None:
    if token.get("client_id") != connection.tenant.pk:
        raise InvalidToken("Token is not for this client")


class TenantJWTAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token: bytes) -> Any:
        token = super().get_validated_token(raw_token)
        check_client(token)
        return token
