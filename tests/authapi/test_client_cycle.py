"""The whole client cycle of the seeds, as one test."""

from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from tests.authapi.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_register_use_expire_refresh_reuse_logout_and_login_again(api_a, tenant_a):
    registered = api_a.post(
        "/api/register/", {"username": "cycle", "email": "cycle@acme.test", "password": PASSWORD}
    )
    assert registered.status_code == HTTPStatus.CREATED
    tokens = registered.json()

    me = api_a.get("/api/profile/", token=tokens["access"])
    assert me.status_code == HTTPStatus.OK and me.json()["username"] == "cycle"

    later = timezone.now() + settings.NINJA_JWT["ACCESS_TOKEN_LIFETIME"] + timedelta(seconds=5)
    with time_machine.travel(later, tick=False):
        assert api_a.get("/api/profile/", token=tokens["access"]).status_code == 401

        refreshed = api_a.post("/api/token/refresh/", {"refresh": tokens["refresh"]})
        assert refreshed.status_code == HTTPStatus.OK
        new = refreshed.json()
        assert api_a.get("/api/profile/", token=new["access"]).status_code == HTTPStatus.OK

        logout = api_a.post("/api/logout/", {"refresh": new["refresh"]})
        assert logout.status_code == HTTPStatus.OK
        assert api_a.post("/api/token/refresh/", {"refresh": new["refresh"]}).status_code == 401
        assert api_a.get("/api/profile/", token=new["access"]).status_code == 401  # session over

        reuse = api_a.post("/api/token/refresh/", {"refresh": tokens["refresh"]})
        assert reuse.status_code == HTTPStatus.UNAUTHORIZED

        again = api_a.post("/api/token/", {"username": "cycle", "password": PASSWORD})
        assert again.status_code == HTTPStatus.OK
        assert api_a.get("/api/profile/", token=again.json()["access"]).status_code == 200
