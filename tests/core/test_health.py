from http import HTTPStatus

import pytest

from tests.conftest import host_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("host", ["localhost", "acme.localhost", "unknown.localhost"])
def test_healthz_answers_on_any_host(tenant_a, host):
    response = host_client(host).get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_redis_are_up(tenant_a):
    response = host_client("acme.localhost").get("/readyz")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_naming_redis_when_redis_is_unreachable(tenant_a, settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"unix://{tmp_path}/no-such-redis.sock",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = host_client("acme.localhost").get("/readyz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["code"] == "not_ready"
    assert "redis" in body["detail"]
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}


def test_tenant_resolution_still_works_when_redis_is_down(tenant_a, settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"unix://{tmp_path}/no-such-redis.sock",
        }
    }
    response = host_client("acme.localhost").get("/api/hello")
    assert response.status_code == HTTPStatus.OK
