"""`make run`: the whole system in one terminal, started the way deploy/ starts it.

Starts (or attaches to) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are
given, turns DEBUG on unless told otherwise, migrates the public and tenant schemas, creates the
public and demo tenants, then hands the processes of deploy/Procfile (the start scripts the
container image runs) to honcho, which works the same on Linux and macOS. Ctrl-C or SIGTERM
stops all of them, then the embedded servers.

`python -m core.devstack manage <command> …` runs one manage.py command against the same
embedded servers (`make manage ARGS=…`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from core import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PROCFILE = BASE_DIR / "deploy" / "Procfile"


def environment() -> dict[str, str]:
    """The process environment of every part of the dev stack."""
    env = dict(os.environ)
    data = embedded.data_dir()
    env.update(embedded.environment(data))
    env.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
    env.setdefault("DEBUG", "true")
    env.setdefault("PORT", "8000")
    env.setdefault("BIND_HOST", "127.0.0.1")
    env.setdefault("WEB_CONCURRENCY", "2")
    env.setdefault("CELERY_CONCURRENCY", "2")
    env.setdefault("CELERY_BEAT_SCHEDULE_FILE", str(data / "celerybeat-schedule"))
    # Web, worker and beat write their metrics here; /metrics adds them up
    # (core.observability.processes).
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data / "metrics"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the start scripts' gunicorn, celery
    return env


def _manage(env: dict[str, str], *args: str) -> int:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env).returncode


def run() -> int:
    env = environment()
    for step in (("migrate_schemas", "--executor", "standard", "-v", "0"), ("bootstrap_dev",)):
        code = _manage(env, *step)
        if code:
            return code
    # Nothing runs yet: whatever a previous run left in the metrics folder goes.
    metrics = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    port = env["PORT"]
    print(
        f"devstack: serving on http://127.0.0.1:{port} — try\n"
        f"  curl -H 'Host: demo.localhost' http://127.0.0.1:{port}/healthz\n"
        f"  curl -s http://127.0.0.1:{port}/metrics | head\n"
        "devstack: Ctrl-C stops everything",
        flush=True,
    )
    honcho = subprocess.Popen(
        [str(BIN / "honcho"), "-f", str(PROCFILE), "-d", str(BASE_DIR), "start"], env=env
    )

    def forward(signum: int, _frame: object) -> None:
        honcho.send_signal(signum)

    # Ctrl-C reaches honcho (same process group) by itself; SIGTERM is passed on.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, forward)
    code = honcho.wait()
    print("devstack: stopped", flush=True)
    return code  # the embedded Redis and PostgreSQL stop in their atexit hooks


def main(argv: list[str]) -> int:
    if argv[:1] == ["manage"]:
        return _manage(environment(), *argv[1:])
    return run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
