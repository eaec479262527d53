"""The API runs through the short middleware stack, everything else through the full one."""

from http import HTTPStatus

import pytest

from core.hotpath.handlers import ApiWSGIHandler, is_api_path

pytestmark = pytest.mark.django_db


def test_production_wsgi_application_is_the_split_handler():
    from core.wsgi import application

    assert isinstance(application, ApiWSGIHandler)


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/api/user/", True),
        ("/auth/token/", True),
        ("/admin/", False),
        ("/login/", False),
        ("/apix", False),
        ("/api", False),
    ],
)
def test_api_paths(path, api):
    assert is_api_path(path) is api


def test_api_responses_carry_no_cookie_machinery(http_a):
    response = http_a.get("/api/hello")
    assert response.status_code == HTTPStatus.OK
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    # The security headers still apply.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_html_pages_keep_sessions_and_csrf(http_a):
    response = http_a.get("/login/")
    assert response.status_code == HTTPStatus.OK
    assert "csrftoken" in response.cookies
    assert response["X-Frame-Options"] == "DENY"


def test_unknown_host_on_the_api_stack_is_still_tenant_not_found(public_tenant):
    from tests.conftest import host_client

    response = host_client("nobody.localhost").get("/api/user/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "tenant_not_found"


def test_api_stacks_built_in_threads_at_once_leave_the_full_middleware_list_alone(settings):
    import threading

    from core.hotpath.handlers import _ApiStack

    full = list(settings.MIDDLEWARE)
    barrier = threading.Barrier(8)

    def build() -> None:
        for _ in range(20):
            barrier.wait()
            _ApiStack().load_middleware()

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert list(settings.MIDDLEWARE) == full
