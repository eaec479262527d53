"""Helpers shared by the purge tests: seeding tokens, counting them, and a real Celery worker
on the test database."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests import log_scan

ROOT = Path(__file__).resolve().parents[2]


def seed(schema: str, *, expired: int, live: int, blacklist_every: int = 3) -> None:
    """`expired` expired and `live` live outstanding tokens; every `blacklist_every`-th of each
    kind is also blacklisted."""
    now = timezone.now()
    with schema_context(schema):
        rows = [
            OutstandingToken(
                jti=uuid.uuid4().hex,
                token=f"expired-{i}",
                created_at=now - timedelta(days=2),
                expires_at=now - timedelta(hours=1, seconds=i),
            )
            for i in range(expired)
        ] + [
            OutstandingToken(
                jti=uuid.uuid4().hex,
                token=f"live-{i}",
                created_at=now,
                expires_at=now + timedelta(days=1, seconds=i),
            )
            for i in range(live)
        ]
        made = OutstandingToken.objects.bulk_create(rows)
        BlacklistedToken.objects.bulk_create(
            BlacklistedToken(token=token) for token in made[::blacklist_every]
        )


def counts(schema: str) -> dict[str, int]:
    now = timezone.now()
    with schema_context(schema):
        return {
            "expired": OutstandingToken.objects.filter(expires_at__lt=now).count(),
            "live": OutstandingToken.objects.filter(expires_at__gte=now).count(),
            "blacklisted_live": BlacklistedToken.objects.filter(token__expires_at__gte=now).count(),
            "blacklisted": BlacklistedToken.objects.count(),
        }


def live_blacklist_count(expired: int, live: int, every: int = 3) -> int:
    return len([i for i in range(expired + live) if i % every == 0 and i >= expired])


def test_database_url() -> str:
    """DATABASE_URL pointed at pytest-django's test database, for subprocesses."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path="/" + connection.settings_dict["NAME"]).geturl()


test_database_url.__test__ = False  # type: ignore[attr-defined]


def subprocess_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DB_CONN_MAX_AGE": "0",
        "SECRET_KEY": settings.SECRET_KEY,  # DEBUG is off once DATABASE_URL is given
        "DJANGO_SETTINGS_MODULE": "core.settings",
        **extra,
    }


@contextlib.contextmanager
def running_worker(log: Path, *, concurrency: int = 2, **env: str) -> Iterator[Path]:
    """A real `celery -A core.celery:app worker` on the test database and the test Redis."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "core.celery:app",
                "worker",
                "-l",
                "info",
                "--concurrency",
                str(concurrency),
                "-n",
                f"purge-test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_scan.keep(log, "celery worker")
