"""The peer's views: SimpleJWT's own views, with the client claims and a tenant check added the
way a team would add them by hand (subclassing the serializers and the authentication class)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView, TokenVerifyView

from bench.peers.drf_tenants.authentication import check_client


class ClientTokenObtainPairSerializer(TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user: Any) -> RefreshToken:
        token = super().get_token(user)
        token["client_id"] = connection.tenant.pk
        token["client_name"] = connection.tenant.name
        return token

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(attrs)
        data.update(
            user_id=self.user.pk,
            username=self.user.username,
            email=self.user.email,
            role="customer",
            client_id=connection.tenant.pk,
            client_name=connection.tenant.name,
        )
        return data


class ClientTokenRefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        check_client(RefreshToken(attrs["refresh"]))
        return super().validate(attrs)


class ClientTokenVerifySerializer(TokenVerifySerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[Any, Any]:
        check_client(UntypedToken(attrs["token"]))
        return super().validate(attrs)


class LoginView(TokenObtainPairView):
    serializer_class = ClientTokenObtainPairSerializer


class RefreshView(TokenRefreshView):
    serializer_class = ClientTokenRefreshSerializer


class VerifyView(TokenVerifyView):
    serializer_class = ClientTokenVerifySerializer


class HelloView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"client_id": request.tenant.pk, "client_name": request.tenant.name})


class UserView(APIView):
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "user_id": user.pk,
                "username": user.username,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "role": "customer",
                "client_id": request.tenant.pk,
                "client_name": request.tenant.name,
                "is_active": user.is_active,
                "date_joined": user.date_joined,
                "last_login": user.last_login,
            }
        )
