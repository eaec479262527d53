"""Tenant admin pages that are not a model's: the blocked logins of login protection."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from authapi import protection
from core.admin_sites import tenant_admin_site
from core.tenancy import current_schema_name

__all__ = ["blocked_logins"]


def blocked_logins(request: HttpRequest) -> HttpResponse:
    """The tenant's blocked accounts and addresses (SPEC §10), with "unblock" for admins and
    staff (a `login_unblocked` event each)."""
    if not (request.user.is_active and request.user.is_staff):
        raise PermissionDenied
    schema = current_schema_name()
    if request.method == "POST":
        lifted = protection.unblock(schema=schema, block_id=request.POST.get("block", ""))
        if lifted is not None:
            messages.success(
                request, f"Unblocked {lifted.login or 'every account'} from {lifted.ip}."
            )
        return HttpResponseRedirect(request.path)
    blocks = [
        {
            "id": block.id,
            "login": block.login,
            "ip": block.ip,
            "until_text": datetime.fromtimestamp(block.until, tz=UTC).strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            ),
        }
        for block in protection.blocked_list(schema=schema)
    ]
    context = {
        **tenant_admin_site.each_context(request),
        "title": "Blocked logins",
        "blocks": blocks,
        "can_unblock": True,
    }
    return TemplateResponse(request, "admin/blocked_logins.html", context)
