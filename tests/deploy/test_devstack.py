"""`make run` (python -m core.devstack): the whole system from one command, and Ctrl-C stops it.

On a fresh database of the test run's PostgreSQL, with its own Redis database number and data
folder: migrate, the demo data, then web, worker and beat from deploy/Procfile under honcho.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import log_scan
from tests.deploy.test_smoke import _free_port, _wait_until, smoke_db  # noqa: F401  (fixture)

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parents[2]


def _redis_db(url: str, db: int) -> str:
    return re.sub(r"db=\d+", f"db={db}", url) if "db=" in url else f"{url.rstrip('/')}/{db}"


def _get(port: int, host: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _login(port: int, username: str, password: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/auth/token/",
        method="POST",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Host": "demo.localhost", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _processes_with(marker: bytes) -> list[int]:
    """Processes whose environment holds `marker` (this run's data folder): the stack's own."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_make_run_serves_the_demo_tenant_and_ctrl_c_stops_everything(smoke_db, tmp_path):  # noqa: F811
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.pop("DEBUG", None)
    env.pop("SECRET_KEY", None)  # make run keeps its own in the data folder
    env.update(
        DATABASE_URL=smoke_db,
        REDIS_URL=_redis_db(os.environ["REDIS_URL"], 7),
        TENANTAUTH_DATA_DIR=str(tmp_path / "data"),
        PORT=str(port),
        CELERY_CONCURRENCY="1",
    )
    log = tmp_path / "devstack.log"
    with log.open("wb") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "core.devstack"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        _wait_until(
            lambda: _get(port, "demo.localhost", "/healthz")[0] == 200, 120, "make run to serve"
        )
        printed = log.read_text()
        match = re.search(rf"demo tenant +http://demo\.localhost:{port}/ +admin / (\S+)", printed)
        assert match, printed[-3000:]
        assert f"http://localhost:{port}/admin/" in printed
        assert _login(port, "admin", match.group(1)) == 200
        status, page = _get(port, "localhost", "/admin/login/")
        assert status == 200 and b"csrfmiddlewaretoken" in page
        _wait_until(lambda: "celery@" in log.read_text(), 60, "the Celery worker")
        # README's `curl -s localhost:8000/metrics`: the processes write to <data>/metrics
        # (a worker's files appear with its first task: tests/observability/test_processes.py).
        status, metrics = _get(port, "localhost", "/metrics")
        assert status == 200 and b"tenantauth_logins_total" in metrics
        assert b'route="/admin/login/"' in metrics
        assert any((tmp_path / "data" / "metrics").glob("histogram_web-*.db"))
    finally:
        os.killpg(stack.pid, signal.SIGINT)  # what Ctrl-C does
        try:
            code = stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            raise
    log_scan.keep(log, "make run")
    assert code in (0, 130, -signal.SIGINT), log.read_text()[-3000:]
    marker = f"TENANTAUTH_DATA_DIR={tmp_path / 'data'}".encode()
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == [], "processes of the stack left behind"
    with pytest.raises(OSError):
        _get(port, "demo.localhost", "/healthz")
