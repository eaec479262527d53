from __future__ import annotations

import pytest

from tests.admin.test_onboarding import operator_http  # noqa: F401  (shared fixtures)
from tests.authapi.conftest import api_a, api_b, make_user  # noqa: F401

PROXY = "10.0.0.1"  # the trusted proxy every test request comes through


@pytest.fixture
def limits(settings):
    """SPEC §10's defaults (the test settings raise them), and a trusted proxy, so that fake
    client addresses arrive through X-Forwarded-For as in production."""
    settings.LOGIN_MAX_FAILURES = 10
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    settings.LOGIN_IP_MAX_FAILURES = 100
    settings.REGISTER_RATE = "20/h"
    settings.LOGIN_HASH_CONCURRENCY = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    return settings


def from_ip(ip: str) -> dict[str, str]:
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": ip}
