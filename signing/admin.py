"""The client's signing keys as the platform admin shows them: kid, algorithm, state and dates,
read-only; never the private part (stored encrypted) nor anything derived from it. Rotation is
an action on the client list (onboarding.admin)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from signing.models import SigningKey

__all__ = ["SigningKeyInline"]


class SigningKeyInline(admin.TabularInline):
    model = SigningKey
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "kid",
        "algorithm",
        "state",
        "created_at",
        "verify_until",
        "retired_at",
    )
    ordering = ["-created_at"]
    verbose_name = "signing key"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
