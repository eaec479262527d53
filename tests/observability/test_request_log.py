"""One log line per request (SPEC §11): request id, client schema, route, method, status,
duration and user id, as key=value or JSON (LOG_FORMAT); never a token, a password or the query
string. Every other line written while a request is served carries its id too."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings

from core.observability.logs import JsonFormatter, KeyValueFormatter, RequestIdFilter
from tests.admin.test_boundaries import sign_in
from tests.authapi.conftest import PASSWORD
from tests.conftest import run_in_another_process

pytestmark = pytest.mark.django_db


def _lines_of(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    yield from _lines_of(JsonFormatter())


@pytest.fixture
def kv_lines() -> Iterator[io.StringIO]:
    yield from _lines_of(KeyValueFormatter())


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_json_request_line_has_every_field(api_a, make_user, tenant_a, json_lines):
    user = make_user(tenant_a, "wanda")
    pair = api_a.login("wanda")
    response = api_a.get(
        "/api/user/?secret=should-not-appear", token=pair["access"], HTTP_X_REQUEST_ID="trace-42"
    )
    (line,) = [r for r in _records(json_lines) if r.get("request_id") == "trace-42"]
    assert line["logger"] == "tenantauth.request" and line["level"] == "INFO"
    assert line["event"] == "request" and line["message"] == "request"
    assert line["method"] == "GET" and line["route"] == "/api/user/" and line["status"] == 200
    assert line["schema"] == tenant_a.schema_name and line["user_id"] == user.pk
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert response["X-Request-ID"] == "trace-42"
    text = json_lines.getvalue()
    assert "should-not-appear" not in text and pair["access"] not in text
    assert pair["refresh"] not in text and PASSWORD not in text


def test_an_anonymous_request_has_no_user_id(api_a, tenant_a, json_lines):
    api_a.get("/api/hello", HTTP_X_REQUEST_ID="anon-1")
    (line,) = [r for r in _records(json_lines) if r.get("request_id") == "anon-1"]
    assert line["user_id"] is None and line["status"] == 200


def test_the_session_side_logs_the_signed_in_user(http_a, make_user, tenant_a, json_lines):
    admin = make_user(tenant_a, "xena", role="admin")
    sign_in(http_a, "xena")
    response = http_a.get("/admin/", HTTP_X_REQUEST_ID="admin-page-1")
    assert response.status_code == 200
    (line,) = [r for r in _records(json_lines) if r.get("request_id") == "admin-page-1"]
    assert line["route"] == "/admin/" and line["user_id"] == admin.pk


def test_every_line_written_during_a_request_carries_its_id(api_a, tenant_a, json_lines):
    api_a.post(
        "/api/auth/token/",
        {"username": "nobody", "password": "Wrong-pass-2026"},
        HTTP_X_REQUEST_ID="failed-login-7",
    )
    api_a.get("/api/no-such-route/", HTTP_X_REQUEST_ID="missing-8")
    by_id: dict[str, set[str]] = {}
    for record in _records(json_lines):
        by_id.setdefault(record["request_id"], set()).add(record["logger"])
    # The audit service's line inside the login, Django's "Not Found" after the middleware.
    assert {"audit.services", "tenantauth.request"} <= by_id["failed-login-7"]
    assert {"django.request", "tenantauth.request"} <= by_id["missing-8"]


def test_the_key_value_line(api_a, tenant_a, kv_lines):
    api_a.get("/api/hello?x=1", HTTP_X_REQUEST_ID="kv-1")
    (line,) = [ln for ln in kv_lines.getvalue().splitlines() if "logger=tenantauth.request" in ln]
    assert line.startswith("ts=")
    assert (
        "level=INFO logger=tenantauth.request request_id=kv-1 event=request method=GET "
        "route=/api/hello status=200 duration_ms="
    ) in line
    assert line.endswith(f" schema={tenant_a.schema_name} user_id=-")
    assert "x=1" not in line


def test_log_format_json_is_the_console_format():
    assert settings.LOGGING["handlers"]["console"]["formatter"] == settings.LOG_FORMAT == "kv"
    out = run_in_another_process(
        "import logging\n"
        "from django.conf import settings\n"
        "from core.observability.context import use_request_id\n"
        "print(settings.LOGGING['handlers']['console']['formatter'])\n"
        "use_request_id('from-json-format')\n"
        "logging.getLogger('tenantauth.test').warning('event=hello n=%d', 3)\n",
        env={"LOG_FORMAT": "json"},
    )
    assert out.strip() == "json"
    # The console handler writes to stderr: run_in_another_process keeps only stdout, so the
    # formatter is checked on the record itself.
    record = logging.LogRecord("tenantauth.test", logging.WARNING, __file__, 1, "n=%d", (3,), None)
    record.request_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "n=3" and line["request_id"] == "abc" and line["level"] == "WARNING"
