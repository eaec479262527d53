"""Faults under load, against a live server: gunicorn (two sync workers, DEBUG off) and a Celery
worker, on a PostgreSQL and a Redis that this module owns (tests/faults/stack.py), so stopping
them disturbs no other test.

- PostgreSQL restarted (`pg_ctl stop -m fast`, then started on the same socket): every answer
  meanwhile is a 2xx or a 503 in the error shape with Retry-After, never a 500 nor a dropped
  connection, and the same two workers serve logins again within seconds of its return (each
  skipped `SET search_path` checked against the new session, HOTPATH_VERIFY_SEARCH_PATH).
- Redis stopped: logins, refresh and verify keep answering 200, `/readyz` is 503 naming Redis;
  once it returns, `/readyz` is 200, both workers' caches serve again and an ended session is
  refused by both at once.
- The Celery worker that lived through both runs a purge.

The tests share one stack and run in file order (about a minute in all).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from http import HTTPStatus

import pytest

from tests.faults.stack import (
    SCHEMA,
    Answer,
    Stack,
    both_workers_cache,
    log,
    postgres_restart,
    redis_stop,
    running_stack,
    summary,
    user_from_both_workers,
    wait_until,
)

# Seconds from PostgreSQL accepting connections again to a worker's first login or refresh.
RECOVERY_SECONDS = 5


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack(workers=2, verify_search_path=True) as stack:
        stack.worker_pid = stack.processes["worker"].pid  # type: ignore[attr-defined]
        yield stack


def _unexpected(answers: list[Answer]) -> list[Answer]:
    """Answers that are neither a 2xx nor the database's 503 in the error shape."""
    return [
        a
        for a in answers
        if not (
            200 <= a.status < 300
            or (a.status == 503 and a.code == "database_unavailable" and a.shaped)
        )
    ]


def _outage_pages(stack: Stack) -> dict[str, Answer]:
    """Pages that need the database, asked while it is down: an API route and an admin page on
    a host nobody has looked up yet (the tenant middleware's lookup), an admin page with a
    session cookie on the known host (the session is read in the view), and /readyz."""
    fresh = f"h{secrets.token_hex(4)}.localhost"
    session = {"Cookie": f"sessionid={secrets.token_hex(16)}"}
    return {
        "api, unknown host": stack.request("GET", "/api/user/", host=fresh)[0],
        "jwks, unknown host": stack.request("GET", "/.well-known/jwks.json", host=fresh)[0],
        "admin, unknown host": stack.request("GET", "/admin/", host=fresh)[0],
        "admin, session": stack.request("GET", "/admin/", headers=session)[0],
        "readyz": stack.request("GET", "/readyz")[0],
    }


def test_postgres_restart_under_load_is_503_never_500_and_the_same_workers_serve_again(stack):
    result = postgres_restart(
        stack, threads=4, before=2, outage=3, after=8, during=lambda: _outage_pages(stack)
    )
    log(f"postgres restart: {summary(result)}")
    answers: list[Answer] = result["all"]  # type: ignore[assignment]

    assert _unexpected(answers) == []
    outage_answers = result["outage"]
    assert outage_answers.get("503 database_unavailable", 0) > 0, "the outage was not noticed"  # type: ignore[attr-defined]

    pages = result["during"]
    for name in ("api, unknown host", "jwks, unknown host"):
        page = pages[name]  # type: ignore[index]
        assert (page.status, page.code, page.shaped) == (503, "database_unavailable", True), name
    for name in ("admin, unknown host", "admin, session"):
        page = pages[name]  # type: ignore[index]
        assert page.status == HTTPStatus.SERVICE_UNAVAILABLE, name
        assert page.content_type.startswith("text/html") and page.retry_after, name

    readyz = pages["readyz"]  # type: ignore[index]
    assert (readyz.status, readyz.code) == (503, "not_ready")

    assert result["workers_after"] == result["workers_before"], "a worker was restarted"
    recovered = result["first_200_after_start_s"]
    assert set(recovered) == {str(pid) for pid in result["workers_before"]}  # type: ignore[union-attr]
    assert max(recovered.values()) < RECOVERY_SECONDS, recovered  # type: ignore[union-attr]
    assert set(result["last_2s"]) == {"200"}, result["last_2s"]


def test_redis_stop_under_load_keeps_logins_refresh_and_verify_working(stack):
    result = redis_stop(stack, threads=4, before=2, outage=4)
    log(f"redis stop: {summary(result)}")

    assert set(result["normal"]) == {"200"}, result["normal"]
    assert set(result["outage"]) == {"200"}, result["outage"]
    for op in ("login", "user", "refresh", "verify"):
        assert result["latency_outage_ms"][op]["n"] > 0, op  # type: ignore[index]

    ready = result["readyz_during"]
    assert ready["status"] == HTTPStatus.SERVICE_UNAVAILABLE  # type: ignore[index]
    assert "redis" in ready["body"]["detail"]  # type: ignore[index]
    assert ready["body"]["checks"] == {"database": "ok", "redis": "unreachable"}  # type: ignore[index]

    wait_until(lambda: stack.ready()[0] == HTTPStatus.OK, timeout=10)


def test_after_redis_returns_the_caches_serve_again_and_invalidations_reach_both_workers(stack):
    wait_until(lambda: stack.ready()[0] == HTTPStatus.OK, timeout=10)
    access = str(stack.login()["access"])

    waited = wait_until(lambda: both_workers_cache(stack, access), timeout=20, step=0.5)
    log(f"both workers' caches serve {waited:.1f} s after /readyz was 200")

    answer, _ = stack.request("POST", "/api/auth/logout-all/", {}, bearer=access)
    assert answer.status == HTTPStatus.OK
    seen = user_from_both_workers(stack, access)
    assert len(seen) >= 2
    assert all(statuses == {HTTPStatus.UNAUTHORIZED} for statuses in seen.values()), seen


def test_the_celery_worker_that_lived_through_both_faults_runs_a_purge(stack):
    worker = stack.processes["worker"]
    assert worker.poll() is None
    assert worker.pid == stack.worker_pid
    result = stack.run_task("authapi.tasks.purge_schema", SCHEMA, timeout=60)
    assert isinstance(result, dict), result
