"""The servers of bench/fairness: a fresh database with the two clients, and tenantauth under
gunicorn the production way (deploy/gunicorn.conf.py), one server per login-protection setting."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
RESULTS = HERE / "results"
DATABASE = "tenantauth_bench_fairness"
PASSWORD = "correct horse battery staple"
CLIENTS = {"flood": "flood.localhost", "calm": "calm.localhost"}
# Server name -> LOGIN_HASH_CONCURRENCY (None: the default) and its Redis database number.
# "refuse-all" is a diagnostic: with no slot at all every login is a 429 and nothing is hashed,
# so its flood shows what the refusals alone cost the calm client.
SERVERS = {"bounded": (None, 0), "unbounded": ("1000", 1), "refuse-all": ("0", 2)}
# Settings of login protection left out of the servers' environment, so the defaults apply.
PROTECTION_SETTINGS = (
    "LOGIN_HASH_CONCURRENCY",
    "LOGIN_MAX_FAILURES",
    "LOGIN_IP_MAX_FAILURES",
    "LOGIN_FAILURE_WINDOW_SECONDS",
    "REGISTER_RATE",
)


def log(message: str) -> None:
    print(message, flush=True)


# --- setup ----------------------------------------------------------------------------------


def ensure_tools() -> None:
    if shutil.which("wrk") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk from Debian's packages ...")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (Debian: apt-get install wrk)")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def with_redis_db(url: str, db: int) -> str:
    """The same Redis server, database `db` (unix://…?db=N or redis://host:port/N)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":  # urlunsplit would drop the "//" of unix:///path
        base, _, query = url.partition("?")
        return f"{base}?{urlencode(dict(parse_qsl(query), db=str(db)))}"
    return urlunsplit(parts._replace(path=f"/{db}"))


def base_environment(tmp: Path) -> dict[str, str]:
    """The servers' environment: a fresh database, Redis, secrets, the bench's settings."""
    import psycopg

    from core import embedded

    extra = embedded.environment(tmp)  # embedded servers and keys for what the env lacks
    server_url = os.environ.get("DATABASE_URL") or extra["DATABASE_URL"]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    env = dict(os.environ, **extra)
    for name in PROTECTION_SETTINGS:
        env.pop(name, None)
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="core.settings",
        DATABASE_URL=with_database(server_url, DATABASE),
        DEBUG="false",
        TENANTAUTH_DATA_DIR=str(tmp),
        TRUSTED_PROXIES="127.0.0.1/32",
        ACCESS_TOKEN_LIFETIME_SECONDS="10800",  # outlives the run
    )
    return env


def prepare(env: dict[str, str]) -> float:
    """Migrate, onboard both clients (admins hashed by the production hasher); return the median
    time of one production password check in ms, measured in-process."""

    def manage(*args: str) -> str:
        command = [sys.executable, str(ROOT / "manage.py"), *args]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    manage("migrate_schemas", "--shared", "-v", "0")
    manage("ensure_public_tenant", "-v", "0")
    for schema, host in CLIENTS.items():
        manage(
            "create_client",
            f"--name={schema.title()} Corp",
            f"--schema={schema}",
            f"--domain={host}",
            f"--admin-username={schema}-admin",
            f"--admin-email=admin@{schema}.test",
            f"--admin-password={PASSWORD}",
        )
    out = manage(
        "shell",
        "-c",
        "import statistics, time\n"
        "from django.contrib.auth.hashers import check_password, get_hasher, make_password\n"
        f"p = {PASSWORD!r}; h = make_password(p); times = []\n"
        "for _ in range(7):\n"
        "    t = time.perf_counter(); assert check_password(p, h)\n"
        "    times.append(time.perf_counter() - t)\n"
        "print(get_hasher().algorithm, statistics.median(times) * 1000)",
    )
    algorithm, ms = out.split()[-2:]
    if algorithm != "argon2":
        sys.exit(f"the production hasher is {algorithm}, not argon2")
    return float(ms)


def code_version() -> dict:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.rstrip()

    changed = [
        line[3:]
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith("bench/")
    ]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_outside_bench": changed}


# --- servers --------------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, port: int, env: dict[str, str], workers: int):
        self.name, self.port = name, port
        concurrency, redis_db = SERVERS[name]
        server_env = dict(
            env,
            REDIS_URL=with_redis_db(env["REDIS_URL"], redis_db),
            BIND_HOST="127.0.0.1",
            PORT=str(port),
            WEB_CONCURRENCY=str(workers),
            LOG_LEVEL="warning",
            GUNICORN_MAX_REQUESTS="0",  # no worker restarts in the middle of a measurement
        )
        if concurrency is not None:
            server_env["LOGIN_HASH_CONCURRENCY"] = concurrency
        command = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py")]
        self.log_file = open(RESULTS / f"server-{name}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*command, "core.wsgi:application"],
            cwd=ROOT,
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
        )

    def request(self, path: str, body: dict | None = None, timeout: float = 5) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Host": CLIENTS["calm"],
                "X-Forwarded-Proto": "https",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited; see {self.log_file.name}")
            try:
                self.request("/api/hello", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"{self.name} did not answer on port {self.port}")

    def settle(self, timeout: float = 30) -> float:
        """Wait until requests the flood left queued are served: three quick answers in a row.
        Returns the seconds waited."""
        start = time.monotonic()
        quick = 0
        while quick < 3 and time.monotonic() - start < timeout:
            t = time.monotonic()
            self.request("/api/hello", timeout=timeout)
            quick = quick + 1 if time.monotonic() - t < 0.05 else 0
            time.sleep(0.1)
        return time.monotonic() - start

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log_file.close()

    def protection_unavailable(self) -> int:
        """How often the server logged that login protection could not reach Redis (and let
        a login through unprotected): anything but 0 makes the run worthless."""
        self.log_file.flush()
        text = Path(self.log_file.name).read_text(errors="replace")
        return text.count("event=login_protection_unavailable")
