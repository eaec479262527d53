"""Platform admin: domains (normalised and validated wherever they are entered). Clients are
registered by onboarding.admin, whose add view onboards one completely."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.admin_sites import platform_admin_site
from core.errors import InvalidInput
from tenants.models import Domain
from tenants.services import domain_normalize, validate_domain_name

__all__ = ["DomainAdmin", "DomainForm", "DomainInline"]


class DomainForm(forms.ModelForm):
    class Meta:
        model = Domain
        fields = ["domain", "tenant", "is_primary"]

    def clean_domain(self) -> str:
        domain = domain_normalize(self.cleaned_data["domain"])
        try:
            validate_domain_name(domain, exclude_pk=self.instance.pk)
        except InvalidInput as exc:
            raise forms.ValidationError([e["message"] for e in exc.errors]) from None
        return domain


class DomainInline(admin.TabularInline):
    model = Domain
    form = DomainForm
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Domain, site=platform_admin_site)
class DomainAdmin(admin.ModelAdmin):
    form = DomainForm
    list_display = ["domain", "tenant", "is_primary"]
    list_select_related = ["tenant"]
    search_fields = ["domain", "tenant__name"]
