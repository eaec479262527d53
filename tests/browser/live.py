"""A live server for the browser tests of the JavaScript client: gunicorn with two workers on
the test database (the production WSGI app and config), with a short access-token lifetime from
its environment, and a static server for clients/js (the built package and its example page).
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

from tests import log_scan

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "clients" / "js"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_server(*, access_lifetime: int, workers: int = 2, **extra_env: str) -> Iterator[int]:
    """gunicorn serving the test database on a free port; yields the port."""
    port = free_port()
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="core.settings",
        DATABASE_URL=url.geturl(),
        REDIS_URL=settings.REDIS_URL,
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="true",
        ACCESS_TOKEN_LIFETIME_SECONDS=str(access_lifetime),
        BIND_HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        REGISTER_RATE="1000/h",  # every test registers from 127.0.0.1
    )
    env.update(extra_env)
    log = tempfile.NamedTemporaryFile("w+", prefix="browser-api-", suffix=".log")  # noqa: SIM115
    proc = subprocess.Popen(
        ["deploy/start-web.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise AssertionError(f"gunicorn did not start:\n{log.read()}")
                time.sleep(0.2)
        yield port
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
        log_scan.keep(log.name, "browser tests' gunicorn")
        log.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def static_server() -> Iterator[int]:
    """clients/js over HTTP (dist/ must be built: `make test` runs `npm test` first)."""
    assert (JS / "dist" / "index.js").exists(), "clients/js/dist is missing: run `make js-test`"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(JS)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
