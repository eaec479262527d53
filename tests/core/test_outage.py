"""core.outage in-process: the database errors that only a middleware meets (a session saved,
anything after the views) become the 503 too; other errors stay 500. The live restart of
PostgreSQL is in tests/faults."""

from http import HTTPStatus

import pytest
from django.db import OperationalError, ProgrammingError

from core.outage import is_database_outage
from tests.conftest import host_client

pytestmark = pytest.mark.django_db


class DatabaseGoneMiddleware:
    """Fails as a middleware that reads the database does while PostgreSQL restarts."""

    error: type[Exception] = OperationalError

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise self.error("consuming input failed: server closed the connection unexpectedly")


class BuggyMiddleware(DatabaseGoneMiddleware):
    error = ProgrammingError


def _with(settings, middleware: str) -> None:
    for name in ("MIDDLEWARE", "API_MIDDLEWARE"):
        stack = list(getattr(settings, name))
        stack.insert(stack.index("tenants.middleware.TenantMiddleware") + 1, middleware)
        setattr(settings, name, stack)


def _client():
    client = host_client("acme.localhost")
    client.raise_request_exception = False  # answer as a server does
    return client


def test_a_database_error_in_a_middleware_is_a_503_in_the_error_shape_on_the_api(
    tenant_a, settings
):
    _with(settings, "tests.core.test_outage.DatabaseGoneMiddleware")
    response = _client().get("/api/user/")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["code"] == "database_unavailable"
    assert set(response.json()) == {"detail", "code"}
    assert int(response["Retry-After"]) > 0


def test_a_database_error_in_a_middleware_is_a_plain_503_page_elsewhere(tenant_a, settings):
    _with(settings, "tests.core.test_outage.DatabaseGoneMiddleware")
    response = _client().get("/admin/")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0


def test_other_database_errors_in_a_middleware_stay_500(tenant_a, settings):
    _with(settings, "tests.core.test_outage.BuggyMiddleware")
    assert _client().get("/admin/").status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert _client().get("/api/user/").status_code == HTTPStatus.INTERNAL_SERVER_ERROR


def test_a_connection_error_wrapped_in_another_error_is_an_outage():
    try:
        try:
            raise OperationalError("the database system is shutting down")
        except OperationalError as exc:
            raise RuntimeError("while loading the user") from exc
    except RuntimeError as wrapped:
        assert is_database_outage(wrapped)
    assert not is_database_outage(ProgrammingError("relation does not exist"))
    assert not is_database_outage(None)
