"""Production-mode smoke test: the deploy commands, natively (no container engine here).

A fresh database on the test run's PostgreSQL; the migrate step (deploy/migrate.sh); a client
onboarded with create_client; gunicorn started by deploy/start-web.sh with the deploy config and 2
workers; a Celery worker and beat started by their scripts exactly as compose does; then
login -> refresh -> logout over HTTP on the tenant host (as the proxy would send it, with
X-Forwarded-Proto: https), and expired tokens purged by beat -> worker.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests import log_scan

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parents[2]
HOST = "smoke.example.com"
TOKENS = "smoke.token_blacklist_outstandingtoken"
PASSWORD = "Sm0ke-test-admin-pass"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def smoke_db() -> Iterator[str]:
    server = os.environ["DATABASE_URL"]
    name = f"smoke_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_dbname(server, name)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(database_url: str, port: int, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        DEBUG="false",
        SECRET_KEY="smoke-" + "s" * 60,
        DATABASE_URL=database_url,
        REDIS_URL=os.environ["REDIS_URL"],
        PUBLIC_HOST="platform.example.com",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_COOKIES="true",
        BIND_HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        CELERY_CONCURRENCY="1",
        CELERY_BEAT_SCHEDULE_FILE=str(tmp_path / "beat-schedule"),
        PURGE_INTERVAL_SECONDS="2",
        MIGRATION_EXECUTOR="multiprocessing",
        CLIENT_ADMIN_PASSWORD=PASSWORD,
    )
    return env


def _call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Host": HOST, "Content-Type": "application/json", "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_production_stack_serves_the_token_cycle_and_purges(smoke_db, tmp_path):
    port = _free_port()
    env = _env(smoke_db, port, tmp_path)
    run = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    migrate = subprocess.run(["deploy/migrate.sh"], **run)
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    onboard = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_client",
            "--name",
            "Smoke Co",
            "--schema",
            "smoke",
            "--domain",
            HOST,
            "--admin-username",
            "admin",
            "--admin-email",
            "admin@smoke.test",
        ],
        **run,
    )
    assert onboard.returncode == 0, onboard.stderr

    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "worker", "beat")}  # noqa: SIM115 (closed in finally)
    procs = {
        name: subprocess.Popen(
            [f"deploy/start-{name}.sh"],
            cwd=ROOT,
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name in ("web", "worker", "beat")
    }
    try:
        _wait_until(lambda: _call(port, "GET", "/healthz")[0] == 200, 30, "gunicorn")
        # Workers boot one after the other; the first may answer before the second has logged.
        web_log = tmp_path / "web.log"
        _wait_until(lambda: web_log.read_text().count("Booting worker") >= 2, 30, "two workers")
        assert web_log.read_text().count("Booting worker") == 2, web_log.read_text()

        assert _call(port, "GET", "/readyz")[0] == 200
        status, pair = _call(
            port, "POST", "/api/auth/token/", {"username": "admin", "password": PASSWORD}
        )
        assert status == 200, pair
        assert pair["client_name"] == "Smoke Co"
        status, rotated = _call(
            port, "POST", "/api/auth/token/refresh/", {"refresh": pair["refresh"]}
        )
        assert status == 200, rotated
        status, body = _call(
            port, "POST", "/api/auth/token/blacklist/", {"refresh": rotated["refresh"]}
        )
        assert (status, body) == (200, {"detail": "Logged out"})
        assert (
            _call(port, "POST", "/api/auth/token/refresh/", {"refresh": rotated["refresh"]})[0]
            == 401
        )
        assert (
            _call(port, "POST", "/api/auth/token/refresh/", {"refresh": pair["refresh"]})[0] == 401
        )
        # Production mode: plain HTTP without the proxy's header is redirected to HTTPS.
        plain = urllib.request.Request(f"http://127.0.0.1:{port}/api/user/", headers={"Host": HOST})
        with pytest.raises(urllib.error.HTTPError) as redirect:
            urllib.request.build_opener(_NoRedirect).open(plain, timeout=5)
        assert redirect.value.code == 301

        # Expired tokens in the tenant schema: beat (every 2 s) -> worker purges them.
        with psycopg.connect(smoke_db, autocommit=True) as conn:
            conn.execute(
                f"INSERT INTO {TOKENS} (jti, token, created_at, expires_at) "
                "SELECT 'expired-' || g, 'x', now() - interval '3 days', now() - interval '1 day' "
                "FROM generate_series(1, 50) g"
            )

            def purged() -> bool:
                row = conn.execute(
                    f"SELECT count(*) FROM {TOKENS} WHERE jti LIKE 'expired-%'"
                ).fetchone()
                return row[0] == 0

            _wait_until(purged, 60, "beat -> worker purge")
            live = conn.execute(
                "SELECT count(*) FROM smoke.token_blacklist_outstandingtoken"
            ).fetchone()
            assert live[0] == 2  # the login's and the rotation's refresh tokens stay
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for f in logs.values():
            f.close()
        for name in logs:
            log_scan.keep(tmp_path / f"{name}.log", f"smoke {name}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None
