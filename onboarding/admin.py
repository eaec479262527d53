"""Platform admin: clients. "Add client" is an onboarding form over `client_onboard` (schema,
primary domain and first admin in one transaction), its errors shown in the form; a client is
then changed like any model (name, active flag, domains), never deleted (deactivate instead)."""

from __future__ import annotations

import logging
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_tenants.utils import get_public_schema_name

from authapi.selectors import dangerously_user_count
from core.admin_sites import platform_admin_site
from core.errors import InvalidInput
from onboarding import services
from signing.admin import SigningKeyInline
from signing.services import key_rotate
from tenants.admin import DomainInline
from tenants.models import Client
from tenants.origins import origins_clean

__all__ = ["ClientAdmin", "ClientOnboardForm"]

log = logging.getLogger(__name__)


class ClientOnboardForm(forms.Form):
    """Everything a new client needs; validated and saved by onboarding.services."""

    name = forms.CharField(max_length=100)
    schema_name = forms.CharField(
        max_length=62, help_text="Lower-case letters, digits and underscores, e.g. acme"
    )
    domain = forms.CharField(max_length=253, help_text="Primary host, e.g. acme.localhost")
    admin_username = forms.CharField(max_length=150, label="First admin's username")
    admin_email = forms.EmailField(label="First admin's email")
    admin_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False), label="First admin's password"
    )
    allowed_origins = forms.CharField(
        required=False,
        label="Allowed origins",
        help_text=Client._meta.get_field("allowed_origins").help_text,
    )

    FIELDSETS = [
        (None, {"fields": ["name", "schema_name", "domain", "allowed_origins"]}),
        ("First admin", {"fields": ["admin_username", "admin_email", "admin_password"]}),
    ]


def _origin_list(value: str) -> list[str]:
    return [v for v in (part.strip() for part in value.replace("\n", ",").split(",")) if v]


class ClientChangeForm(forms.ModelForm):
    """A client's name, active flag and allowed origins (normalised by tenants.origins)."""

    class Meta:
        model = Client
        fields = ["name", "is_active", "allowed_origins"]

    def clean_allowed_origins(self) -> list[str]:
        try:
            return origins_clean(self.cleaned_data.get("allowed_origins") or [])
        except InvalidInput as exc:
            raise forms.ValidationError(exc.errors[0]["message"]) from None


@admin.register(Client, site=platform_admin_site)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "schema_name", "primary_domain", "is_active", "created_on", "users"]
    list_filter = ["is_active"]
    search_fields = ["name", "schema_name", "domains__domain"]
    readonly_fields = ["schema_name", "created_on", "users"]
    fields = ["name", "schema_name", "is_active", "allowed_origins", "created_on", "users"]
    form = ClientChangeForm
    inlines = [DomainInline, SigningKeyInline]
    actions = ["rotate_signing_key", "rotate_signing_key_retire_previous"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("domains")

    def has_delete_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        return False  # deactivate instead: data is kept, tokens stop working

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ClientOnboardForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            client = self._onboard(request, form)
            if client is not None:
                self.log_addition(request, client, [{"added": {}}])
                self.message_user(
                    request, f"The client “{client}” was added successfully.", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:tenants_client_changelist"))
        # The admin's helpers take any form; the stubs say ModelForm.
        adminform = helpers.AdminForm(cast(Any, form), ClientOnboardForm.FIELDSETS, {})
        context = {
            **self.admin_site.each_context(request),
            "title": "Onboard a client",
            "adminform": adminform,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + adminform.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(cast(Any, form), []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)

    def _onboard(self, request: HttpRequest, form: ClientOnboardForm) -> Client | None:
        try:
            data = dict(form.cleaned_data)
            data["allowed_origins"] = _origin_list(data.get("allowed_origins") or "")
            return services.client_onboard(**data)
        except InvalidInput as exc:
            for error in exc.errors:
                field = error["field"] if error["field"] in form.fields else None
                form.add_error(field, error["message"])
        except Exception:
            log.exception("event=client_onboard_failed schema=%s", form.cleaned_data["schema_name"])
            form.add_error(None, "Onboarding failed part-way; nothing was created. See the logs.")
        return None

    @admin.action(
        description="Rotate the signing key (the previous one verifies until its tokens expire)",
        permissions=["change"],
    )
    def rotate_signing_key(self, request: HttpRequest, queryset: Any) -> None:
        self._rotate(request, queryset, retire_previous=False)

    @admin.action(
        description="Rotate the signing key and retire the previous one now (compromise)",
        permissions=["change"],
    )
    def rotate_signing_key_retire_previous(self, request: HttpRequest, queryset: Any) -> None:
        self._rotate(request, queryset, retire_previous=True)

    def _rotate(self, request: HttpRequest, queryset: Any, *, retire_previous: bool) -> None:
        if settings.JWT_ALGORITHM == "HS256":
            self.message_user(request, "JWT_ALGORITHM is HS256: no key pairs.", messages.ERROR)
            return
        clients = queryset.exclude(schema_name=get_public_schema_name())
        for client in clients:
            key = key_rotate(client=client, retire_previous=retire_previous)
            self.message_user(request, f"{client}: new signing key {key.kid}.", messages.SUCCESS)

    @admin.display(description="primary domain")
    def primary_domain(self, obj: Client) -> str:
        return next((d.domain for d in obj.domains.all() if d.is_primary), "")

    @admin.display(description="users")
    def users(self, obj: Client) -> int | str:
        if not obj.pk or obj.schema_name == get_public_schema_name():
            return "—"
        return dangerously_user_count(schema_name=obj.schema_name)
