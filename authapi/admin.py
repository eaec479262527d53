"""Admin for users, sessions and tokens.

Platform site: the platform's own staff users. Tenant site: the tenant's users with their role
(each user's page links to its sessions and API keys, and the user list can end all sessions or
revoke all keys of the users selected), login sessions (with "end"), API keys (with "revoke"),
outstanding refresh tokens (with "revoke") and blacklisted tokens (read-only). No page shows a
token's or key's value: only ids, prefixes and dates.

What each role may do in a tenant's admin:
- admin: everything (superuser within its own schema);
- staff: view users, sessions and tokens; end sessions and revoke tokens and keys of non-admin
  accounts; nothing else;
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
from django.urls import reverse
from django.utils.html import format_html
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from authapi import admin_views, api_tokens, selectors, services, sessions
from authapi.models import ApiToken, Role, Session, User
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

    # Lookups allowed besides list_filter's: exact ids only (the user page's links).
    extra_lookups: tuple[str, ...] = ()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup in self.extra_lookups:
            return True
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
        ("Sessions and API keys", {"fields": ["credentials"]}),
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
    readonly_fields = ["last_login", "date_joined", "credentials"]
    actions = ["end_sessions", "revoke_api_tokens"]

    @admin.display(description="sessions and API keys")
    def credentials(self, obj: User) -> str:
        if obj.pk is None or self.admin_site is not tenant_admin_site:
            return "-"
        live = selectors.session_list_active(user=obj).count()
        keys = selectors.api_token_list(user=obj).count()
        return format_html(
            '<a href="{}?user__id__exact={}">{} live session(s)</a> · '
            '<a href="{}?user__id__exact={}">{} API key(s)</a>',
            reverse("tenant_admin:authapi_session_changelist"),
            obj.pk,
            live,
            reverse("tenant_admin:authapi_apitoken_changelist"),
            obj.pk,
            keys,
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if self.admin_site is not tenant_admin_site:  # platform staff have no sessions or keys
            actions.pop("end_sessions", None)
            actions.pop("revoke_api_tokens", None)
        return actions

    def has_end_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    @admin.action(description="End every session of the selected users", permissions=["end"])
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _report(
            self,
            request,
            sessions.sessions_revoke(
                actor=cast(User, request.user),
                sessions=Session.objects.filter(user__in=queryset),
            ),
            "Ended {} session(s).",
            "{} session(s) of admin accounts were not ended: only an admin may.",
        )

    @admin.action(description="Revoke every API key of the selected users", permissions=["end"])
    def revoke_api_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _report(
            self,
            request,
            api_tokens.api_tokens_revoke(
                actor=cast(User, request.user),
                tokens=ApiToken.objects.filter(user__in=queryset),
            ),
            "Revoked {} API key(s).",
            "{} API key(s) of admin accounts were not revoked: only an admin may.",
        )

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


def _report(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    counts: tuple[int, int],
    done: str,
    refused: str,
) -> None:
    model_admin.message_user(request, done.format(counts[0]), messages.SUCCESS)
    if counts[1]:
        model_admin.message_user(request, refused.format(counts[1]), messages.WARNING)


class SessionAdmin(RecordAdmin):
    """Login sessions: who, since when, from where; staff may end them, except an admin's."""

    list_display = ("user", "created_at", "last_used_at", "expires_at", "ended_at", "end_reason")
    list_select_related = ["user"]
    list_filter = ["end_reason", "expires_at"]
    extra_lookups = ("user__id__exact",)
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
        _report(
            self,
            request,
            sessions.sessions_revoke(actor=cast(User, request.user), sessions=queryset),
            "Ended {} session(s).",
            "{} session(s) of admin accounts were not ended: only an admin may.",
        )


class ApiTokenAdmin(RecordAdmin):
    """API keys by name, prefix, user and dates: never the key (only its digest is stored, and
    that is not shown either). Staff may revoke them, except an admin's."""

    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "expires_at")
    list_select_related = ["user"]
    list_filter = ["expires_at"]
    extra_lookups = ("user__id__exact",)
    search_fields = ["user__username", "name"]
    ordering = ["-created_at"]
    actions = ["revoke"]
    fields = readonly_fields = (
        "id",
        "name",
        "prefix",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # through "revoke", which keeps staff off admins' keys

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    @admin.action(description="Revoke (delete) selected API keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        _report(
            self,
            request,
            api_tokens.api_tokens_revoke(actor=cast(User, request.user), tokens=queryset),
            "Revoked {} API key(s).",
            "{} API key(s) of admin accounts were not revoked: only an admin may.",
        )


platform_admin_site.register(User, UserAdmin)
tenant_admin_site.register(User, UserAdmin)
tenant_admin_site.register(OutstandingToken, OutstandingTokenAdmin)
tenant_admin_site.register(BlacklistedToken, BlacklistedTokenAdmin)
tenant_admin_site.register(Session, SessionAdmin)
tenant_admin_site.register(ApiToken, ApiTokenAdmin)

tenant_admin_site.extra_views.append(
    ("blocked-logins/", admin_views.blocked_logins, "blocked_logins")
)
