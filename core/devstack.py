"""`make run`: the whole system in one terminal.

Starts (or attaches to) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are
given, migrates the public and tenant schemas, creates the public and demo tenants, then runs
gunicorn, a Celery worker and Celery beat. Ctrl-C or SIGTERM stops all of them; children also
receive SIGTERM if this process dies (PR_SET_PDEATHSIG), so nothing is left orphaned.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)


def _spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    print(f"devstack: starting {name}: {' '.join(argv)}", flush=True)
    return subprocess.Popen(argv, cwd=BASE_DIR, preexec_fn=_die_with_parent)


def main() -> int:
    from core import embedded

    # Die with `make` too: if make is killed, this process gets SIGTERM and stops its children.
    _die_with_parent()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    port = os.environ.get("PORT", "8000")
    data = embedded.data_dir()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded.ensure_postgres(data)
        os.environ.setdefault("DEBUG", "true")
        print(f"devstack: embedded PostgreSQL in {data / 'pg'}", flush=True)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded.ensure_redis(data)
        print(f"devstack: embedded Redis in {data / 'redis'}", flush=True)

    _manage("migrate_schemas", "--executor", "standard", "-v", "0")
    _manage("bootstrap_dev")

    children = {
        "web": _spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "core.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                os.environ.get("WEB_CONCURRENCY", "2"),
                "--access-logfile",
                "-",
            ],
        ),
        "worker": _spawn(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "core.celery:app",
                "worker",
                "-l",
                "info",
                "--concurrency",
                os.environ.get("CELERY_CONCURRENCY", "2"),
            ],
        ),
        "beat": _spawn(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "core.celery:app",
                "beat",
                "-l",
                "info",
                "-s",
                str(data / "celerybeat-schedule"),
            ],
        ),
    }
    print(
        f"devstack: serving on http://127.0.0.1:{port} — try\n"
        f"  curl -H 'Host: demo.localhost' http://127.0.0.1:{port}/healthz\n"
        "devstack: Ctrl-C stops everything",
        flush=True,
    )

    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exit_code = 0
    while not stopping:
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"devstack: {name} exited with {proc.returncode}; stopping", flush=True)
                exit_code = 1
                stopping = True
        time.sleep(0.3)

    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print("devstack: stopped", flush=True)
    return exit_code  # embedded Redis and PostgreSQL stop in their atexit hooks


if __name__ == "__main__":
    sys.exit(main())
