"""The session login pages (`/login/`, both admins' `/admin/login/`), answering a login refused by
login protection (SPEC §10; the authentication backend leaves its Throttled on the request) with
429, `Retry-After` and a message that says so, instead of "wrong password"."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from core.errors import Throttled

__all__ = ["ProtectedLoginView", "throttle_aware"]


def throttle_aware(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        refused = getattr(request, "login_throttled", None)
        if isinstance(refused, Throttled):
            response.status_code = HTTPStatus.TOO_MANY_REQUESTS
            response["Retry-After"] = str(refused.retry_after)
            form = (getattr(response, "context_data", None) or {}).get("form")
            if form is not None:
                minutes = max(1, round(refused.retry_after / 60))
                form._errors["__all__"] = form.error_class(
                    [f"{refused.detail}. Try again in about {minutes} minute(s)."]
                )
        return response

    return wrapped


class ProtectedLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return throttle_aware(super().post)(request, *args, **kwargs)
