"""Admin for users and tokens.

Platform site: the platform's own staff users. Tenant site: the tenant's users with their role,
outstanding refresh tokens (with a "revoke" action) and blacklisted tokens (read-only).

What each role may do in a tenant's admin:
- admin: everything (superuser within its own schema);
- staff: view users and tokens, and revoke refresh tokens; nothing else;
- customer: cannot enter the admin.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from authapi import selectors, services, sessions
from authapi.models import Role, Session, User
from core.admin_sites import platform_admin_site, tenant_admin_site


def _is_admin(request: HttpRequest) -> bool:
    user = request.user
    return user.is_active and (user.is_superuser or getattr(user, "role", None) == Role.ADMIN)


def _is_staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff


class RoleAwareAdmin(admin.ModelAdmin):
    """Staff may look; only admins may change.

    Changelist URLs accept only the lookups of `list_filter`: Django otherwise lets any field be
    filtered from the query string (`?password__startswith=argon2$…`), which turns the row count
    into an oracle for a hash or a token, one character at a time.
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        allowed = {f[0] if isinstance(f, (tuple, list)) else f for f in self.list_filter}
        return lookup.split("__", 1)[0] in allowed and super().lookup_allowed(
            lookup, value, request
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)


class LoginStringsForm(forms.ModelForm):
    """Username and email may name no other account by either (authapi.selectors)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        username = selectors.login_normalize(data.get("username") or "")
        email = User.objects.normalize_email(selectors.login_normalize(data.get("email") or ""))
        if "email" in data:
            data["email"] = email
        conflicts = selectors.login_conflicts(
            username=username, email=email, exclude_pk=self.instance.pk
        )
        for conflict in conflicts:
            if conflict["field"] not in self.errors:
                self.add_error(conflict["field"], conflict["message"])
        return data


class RoleChangeForm(LoginStringsForm, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        # django-stubs type UserChangeForm.Meta.fields as the string "__all__".
        fields = [  # type: ignore[assignment]
            "username",
            "password",
            "first_name",
            "last_name",
            "email",
            "role",
            "is_active",
        ]


class RoleCreationForm(LoginStringsForm, UserCreationForm):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CUSTOMER)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "role")


class UserAdmin(RoleAwareAdmin, DjangoUserAdmin):
    form = RoleChangeForm
    add_form = RoleCreationForm
    list_display = ["username", "email", "role", "is_active", "date_joined", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name"]
    ordering = ["-date_joined"]
    # is_staff / is_superuser / permissions follow from the role (authapi.roles.apply_role).
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("Access", {"fields": ["role", "is_active"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "email", "role", "password1", "password2"],
            },
        ),
    ]
    readonly_fields = ["last_login", "date_joined"]

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        services.user_save(user=obj)


class RecordAdmin(RoleAwareAdmin):
    """Records the system makes (tokens, sessions): listed and acted on, never added or edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OutstandingTokenAdmin(RecordAdmin):
    """Refresh tokens by id, user, created and expiry: never the token text (a staff user who
    could read it could refresh it and act as its owner)."""

    list_display = ["id", "user", "created_at", "expires_at", "is_blacklisted"]
    list_select_related = ["user"]
    list_filter = ["expires_at"]
    search_fields = ["user__username"]
    ordering = ["-created_at"]
    actions = ["revoke"]
    fields = readonly_fields = ("id", "user", "created_at", "expires_at", "is_blacklisted")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutstandingToken]:
        return super().get_queryset(request).select_related("blacklistedtoken")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    @admin.display(boolean=True, description="blacklisted")
    def is_blacklisted(self, obj: OutstandingToken) -> bool:
        return hasattr(obj, "blacklistedtoken")

    @admin.action(description="Revoke (blacklist) selected refresh tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[OutstandingToken]) -> None:
        revoked, refused = sessions.tokens_revoke(
            actor=cast(User, request.user), token_ids=list(queryset.values_list("id", flat=True))
        )
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} token(s) of admin accounts were not revoked: only an admin may.",
                messages.WARNING,
            )


class BlacklistedTokenAdmin(RecordAdmin):
    list_display = ["id", "token_user", "token_created_at", "blacklisted_at"]
    list_select_related = ["token__user"]
    list_filter = ["blacklisted_at"]
    search_fields = ["token__user__username"]
    ordering = ["-blacklisted_at"]
    fields = readonly_fields = ("id", "token_user", "token_created_at", "blacklisted_at")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="user")
    def token_user(self, obj: BlacklistedToken) -> object:
        return obj.token.user

    @admin.display(description="created")
    def token_created_at(self, obj: BlacklistedToken) -> object:
        return obj.token.created_at


class SessionAdmin(RecordAdmin):
    """Login sessions: who, since when, from where; staff may end them, except an admin's."""

    list_display = ("user", "created_at", "last_used_at", "expires_at", "ended_at", "end_reason")
    list_select_related = ["user"]
    list_filter = ["end_reason", "expires_at"]
    search_fields = ["user__username"]
    ordering = ["-created_at"]
    actions = ["end"]
    fields = readonly_fields = (
        "id",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "ended_at",
        "end_reason",
        "user_agent",
        "ip",
    )

    def has_end_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    @admin.action(description="End selected sessions", permissions=["end"])
    def end(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        ended, refused = sessions.sessions_revoke(actor=cast(User, request.user), sessions=queryset)
        self.message_user(request, f"Ended {ended} session(s).", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} session(s) of admin accounts were not ended: only an admin may.",
                messages.WARNING,
            )


platform_admin_site.register(User, UserAdmin)
tenant_admin_site.register(User, UserAdmin)
tenant_admin_site.register(OutstandingToken, OutstandingTokenAdmin)
tenant_admin_site.register(BlacklistedToken, BlacklistedTokenAdmin)
tenant_admin_site.register(Session, SessionAdmin)
