"""Tenant admin pages that are not a model's: the blocked logins of login protection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from authapi import protection, selectors
from authapi.models import User
from authapi.roles import is_tenant_admin
from core.admin_sites import tenant_admin_site
from core.tenancy import current_schema_name

__all__ = ["blocked_logins"]


def _names_an_admin(login: str | None) -> bool:
    user = selectors.user_get_by_login(login=login) if login else None
    return user is not None and is_tenant_admin(user)


def blocked_logins(request: HttpRequest) -> HttpResponse:
    """The tenant's blocked accounts and addresses (SPEC §10), with "unblock" for admins and
    staff (a `login_unblocked` event each); only an admin may unblock an admin account."""
    actor = cast(User, request.user)
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied
    schema = current_schema_name()
    if request.method == "POST":
        block_id = request.POST.get("block", "")
        block = next((b for b in protection.blocked_list(schema=schema) if b.id == block_id), None)
        if block is not None and not is_tenant_admin(actor) and _names_an_admin(block.login):
            messages.error(request, "Only an admin may unblock an admin account.")
        elif block is not None and protection.unblock(schema=schema, block_id=block_id):
            messages.success(
                request, f"Unblocked {block.login or 'every account'} from {block.ip}."
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
