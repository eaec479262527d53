"""Platform admin: clients (onboarded in one form through tenants.services) and domains."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin
from django.db import connection
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name, schema_context

from core.admin_sites import platform_admin_site
from tenants.models import Client, Domain
from tenants.services import OnboardingError, client_onboard

log = logging.getLogger(__name__)

_FORM_FIELDS = {"admin_username", "admin_email", "admin_password", "domain", "name", "schema_name"}


class ClientOnboardForm(forms.ModelForm):
    """The add form: everything a new client needs, onboarded by the shared service."""

    domain = forms.CharField(max_length=253, help_text="Primary host, e.g. acme.localhost")
    admin_username = forms.CharField(max_length=150, label="First admin's username")
    admin_email = forms.EmailField(label="First admin's email")
    admin_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False), label="First admin's password"
    )

    class Meta:
        model = Client
        fields = ["name", "schema_name"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        # Onboarding runs here so that every failure, validation or part-way, shows in the form;
        # the service makes it all-or-nothing.
        try:
            self.instance = client_onboard(
                name=data["name"],
                schema_name=data["schema_name"],
                domain=data["domain"],
                admin_username=data["admin_username"],
                admin_email=data["admin_email"],
                admin_password=data["admin_password"],
            )
        except OnboardingError as exc:
            self.add_error(exc.field if exc.field in _FORM_FIELDS else None, exc.message)
        except Exception:
            log.exception("event=client_onboard_failed schema=%s", data.get("schema_name"))
            self.add_error(None, "Onboarding failed part-way; nothing was created. See the logs.")
        return data

    def validate_unique(self) -> None:
        """Uniqueness was checked (and the row created) by the service."""


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Client, site=platform_admin_site)
class ClientAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "schema_name",
        "primary_domain",
        "is_active",
        "created_on",
        "user_count",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "schema_name", "domains__domain"]
    readonly_fields = ["schema_name", "created_on", "user_count"]
    fields = ["name", "schema_name", "is_active", "created_on", "user_count"]
    inlines = [DomainInline]

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("domains")

    def get_form(self, request: HttpRequest, obj: Client | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        if obj is None:
            kwargs["form"] = ClientOnboardForm
            kwargs["fields"] = None
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Client | None = None):  # type: ignore[no-untyped-def]
        if obj is None:
            return [
                (None, {"fields": ["name", "schema_name", "domain"]}),
                ("First admin", {"fields": ["admin_username", "admin_email", "admin_password"]}),
            ]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Client | None = None):  # type: ignore[no-untyped-def]
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Client | None):  # type: ignore[no-untyped-def]
        return [] if obj is None else self.inlines

    def save_model(
        self, request: HttpRequest, obj: Client, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            obj.save()
        # On add the form already onboarded the client (obj is the saved Client).

    def has_delete_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        return False  # deactivate instead: data is kept, tokens stop working

    @admin.display(description="primary domain")
    def primary_domain(self, obj: Client) -> str:
        return next((d.domain for d in obj.domains.all() if d.is_primary), "")

    @admin.display(description="users")
    def user_count(self, obj: Client) -> int | str:
        if obj.schema_name == get_public_schema_name() or not obj.pk:
            return "—"
        with schema_context(obj.schema_name), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM authapi_user")
            return cursor.fetchone()[0]


@admin.register(Domain, site=platform_admin_site)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    list_select_related = ["tenant"]
    search_fields = ["domain", "tenant__name"]
