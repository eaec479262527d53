"""Property: whatever body, headers and tokens a client sends to any route, the answer is never
a 500 and every error is in the SPEC's shape."""

import json
from http import HTTPStatus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.authapi.conftest import (
    ACCOUNTS_ROUTES,
    LOGIN_ROUTES,
    LOGOUT_ROUTES,
    REFRESH_ROUTES,
    REGISTER_ROUTES,
    USER_ROUTES,
    VERIFY_ROUTES,
    Api,
)

pytestmark = pytest.mark.django_db

ROUTES = (
    LOGIN_ROUTES
    + REFRESH_ROUTES
    + VERIFY_ROUTES
    + LOGOUT_ROUTES
    + REGISTER_ROUTES
    + USER_ROUTES
    + ACCOUNTS_ROUTES
    + ["/api/test-auth/", "/api/nope", "/auth/", "/api/"]
    + ["/api/auth/sessions/", "/api/auth/logout-all/", "/api/auth/password/change/"]
    + ["/api/auth/sessions/not-a-session/"]
    + ["/api/auth/api-tokens/", "/api/auth/api-tokens/1/", "/api/auth/api-tokens/x/"]
)
FIELDS = [
    "username",
    "password",
    "email",
    "role",
    "refresh",
    "token",
    "first_name",
    "last_name",
    "name",
    "expires_in_days",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200),
    st.text(max_size=200),
)


def _token_like(valid: str):
    parts = valid.split(".")
    return st.one_of(
        st.text(max_size=300),
        st.just(valid),
        st.builds(
            lambda i, s: ".".join(p if n != i else s for n, p in enumerate(parts)),
            st.integers(0, 2),
            st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF-_0123456789=", max_size=60),
        ),
        st.builds(lambda cut: valid[:cut], st.integers(0, len(valid))),
    )


def assert_well_formed(response):
    assert response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body.get("detail"), str) and isinstance(body.get("code"), str), body
        assert set(body) <= {"detail", "code", "errors"}, body
        for error in body.get("errors") or []:
            assert set(error) == {"field", "message"}
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            assert response["WWW-Authenticate"] == "Bearer"


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    path=st.sampled_from(ROUTES),
    method=st.sampled_from(["get", "post", "put", "delete", "patch"]),
    body=bodies,
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ]
    ),
    auth=st.one_of(
        st.none(),
        st.text(max_size=80),
        st.text(max_size=80).map(lambda t: f"Bearer {t}"),
        st.text(max_size=80).map(lambda t: f"Token tat_{t}"),
    ),
)
def test_arbitrary_requests_never_500_and_errors_have_the_shape(
    http_a, path, method, body, content_type, auth
):
    headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    call = getattr(http_a, method)
    if method == "get":
        response = call(path, **headers)
    else:
        response = call(path, body, content_type=content_type, **headers)
    assert_well_formed(response)


@pytest.fixture
def fuzz_pair(http_a, tenant_a, make_user):
    # Function-scoped fixtures run once for all of a test's hypothesis examples.
    make_user(tenant_a, "fuzzer")
    return Api(http_a).login("fuzzer")


@FUZZ
@given(data=st.data(), path=st.sampled_from(ROUTES), field=st.sampled_from(["refresh", "token"]))
def test_mangled_tokens_never_500(http_a, fuzz_pair, data, path, field):
    api = Api(http_a)
    valid = data.draw(st.sampled_from([fuzz_pair["access"], fuzz_pair["refresh"]]))
    token = data.draw(_token_like(valid))
    if data.draw(st.booleans()):
        method = "GET" if path in USER_ROUTES + ACCOUNTS_ROUTES else "POST"
        response = api.http.generic(method, path, HTTP_AUTHORIZATION=f"Bearer {token}")
    else:
        response = api.post(path, {field: token})
    assert_well_formed(response)


@FUZZ
@given(
    method=st.sampled_from(["get", "post", "delete", "put"]),
    route=st.sampled_from(
        [
            "/api/auth/sessions/",
            "/api/auth/logout-all/",
            "/api/auth/password/change/",
            "/api/auth/api-tokens/",
            "ID",
            "KEY",
        ]
    ),
    session_id=st.text(max_size=40),
    body=bodies,
)
def test_the_session_routes_with_a_valid_token_never_500(
    http_a, fuzz_pair, method, route, session_id, body
):
    from urllib.parse import quote

    collection = {"ID": "/api/auth/sessions/", "KEY": "/api/auth/api-tokens/"}
    path = f"{collection[route]}{quote(session_id, safe='')}/" if route in collection else route
    headers = {"HTTP_AUTHORIZATION": f"Bearer {fuzz_pair['access']}"}
    call = getattr(http_a, method)
    if method in ("get", "delete"):
        response = call(path, **headers)
    else:
        response = call(path, body, content_type="application/json", **headers)
    if response.status_code == HTTPStatus.NO_CONTENT:
        assert method == "delete"  # ended one of the caller's sessions or keys (guessed right)
    else:
        assert_well_formed(response)
