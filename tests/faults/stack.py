"""A whole tenantauth on servers of its own, for breaking them: a PostgreSQL and a Redis that
nothing else uses (so stopping them breaks no other test), gunicorn the production way
(deploy/start-web.sh, DEBUG off, two sync workers) and a Celery worker (deploy/start-worker.sh);
a load of logins, user reads, refreshes and verifies from a few threads; and the two faults,
each returning what it measured. Used by tests/faults and by bench/faults/run.py.

No Django here: everything of the product runs in its own processes. Every request carries an
`X-Fault-Probe` id that gunicorn's access log writes beside the worker's pid, which is how an
answer is traced to the worker that gave it.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOST = "acme.localhost"
SCHEMA = "acme"
ADMIN = "admin"
PASSWORD = "Fault-tolerant-2026"
DATABASE = "tenantauth_faults"
PROBE_HEADER = "X-Fault-Probe"


def log(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the servers the stack owns ---------------------------------------------------------------


class Postgres:
    """A PostgreSQL of its own under `root/pg` (pgserver's binaries and first start, which also
    handle running as root), stopped and started again with pg_ctl on the same socket."""

    def __init__(self, root: Path) -> None:
        import logging
        import warnings

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver import _commands

        self._pg_ctl = _commands.pg_ctl
        self.server = pgserver.get_server(root / "pg", cleanup_mode="stop")
        info = self.server.get_postmaster_info()
        self.pgdata = Path(self.server.pgdata)
        self.socket_dir = info.socket_dir
        self.url = self.server.get_uri()

    def _ctl(self, *args: str) -> None:
        self._pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: every session is terminated, as in a restart or failover."""
        self._ctl("-w", "stop", "-m", "fast")

    def start(self) -> None:
        log_file = str(self.pgdata / "log")
        self._ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log_file, "start")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("-w", "stop", "-m", "fast")


class Redis:
    """A Redis of its own on a unix socket under `root/redis` (core.embedded's way)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = self.start()

    def start(self) -> str:
        from core import embedded

        return embedded.ensure_redis(self.root, stop_at_exit=False)

    def stop(self) -> None:
        """SIGTERM (Redis saves its data and exits, as on a restart); returns once it is gone."""
        pidfile = self.root / "redis" / "redis.pid"
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 15)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # ProcessLookupError once it has exited
                time.sleep(0.02)

    close = stop


def _celery_url(url: str) -> str:
    return "redis+socket://" + url.removeprefix("unix://").split("?", 1)[0]


# --- the product's processes ------------------------------------------------------------------


@dataclass
class Answer:
    op: str
    sent: float  # monotonic
    done: float
    status: int  # 0: no HTTP answer (see error)
    probe: str
    shaped: bool = True  # an error in {"detail", "code"} (with Retry-After on a 503)
    code: str | None = None
    error: str | None = None
    content_type: str = ""
    retry_after: str | None = None

    @property
    def latency(self) -> float:
        return self.done - self.sent


class Stack:
    """Servers, a migrated database with the client `acme`, gunicorn and a Celery worker."""

    def __init__(self, root: Path, *, workers: int = 2, verify_search_path: bool = False) -> None:
        from bench.secrets_env import app_secrets

        self.root = root
        self.workers = workers
        self.postgres = Postgres(root)
        self.redis = Redis(root)
        self.access_log = root / "access.log"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[object] = []
        self._probes = itertools.count()
        self._pid_cache: dict[str, int] = {}
        self._log_offset = 0
        self._pid_lock = threading.Lock()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
        for name in ("LOGIN_MAX_FAILURES", "LOGIN_IP_MAX_FAILURES", "REGISTER_RATE"):
            env.pop(name, None)
        env.update(app_secrets())
        env.update(
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="core.settings",
            DATABASE_URL=self._database_url(),
            REDIS_URL=self.redis.url,
            DEBUG="false",
            LOG_LEVEL="warning",
            ACCESS_TOKEN_LIFETIME_SECONDS="3600",
            LOGIN_HASH_CONCURRENCY="64",  # the load logs in from several threads at once
            REGISTER_RATE="1000/h",
            # Every skipped `SET search_path` checked against the session: a connection made
            # again after an outage with a path remembered from the old one would be a 500.
            HOTPATH_VERIFY_SEARCH_PATH="true" if verify_search_path else "false",
        )
        self.env = env

    def _database_url(self) -> str:
        import psycopg

        with psycopg.connect(self.postgres.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE}")
        base, _, query = self.postgres.url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{DATABASE}" + (f"?{query}" if query else "")

    # -- setup

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def prepare(self) -> None:
        log("migrating and onboarding acme ...")
        self.manage("migrate_schemas", "--shared", "-v", "0")
        self.manage("ensure_public_tenant", "-v", "0")
        self.manage(
            "create_client",
            "--name=Acme Corp",
            f"--schema={SCHEMA}",
            f"--domain={HOST}",
            f"--admin-username={ADMIN}",
            "--admin-email=admin@acme.test",
            f"--admin-password={PASSWORD}",
        )

    def _spawn(self, name: str, script: str, **extra: str) -> subprocess.Popen[bytes]:
        out = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 (closed in close())
        self._logs.append(out)
        process = subprocess.Popen(
            [str(ROOT / "deploy" / script)],
            cwd=ROOT,
            env=dict(self.env, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start(self) -> None:
        from tests.browser.live import free_port

        self.port = free_port()
        fmt = f"%(p)s %(s)s %({{{PROBE_HEADER.lower()}}}i)s"
        self._spawn(
            "web",
            "start-web.sh",
            BIND_HOST="127.0.0.1",
            PORT=str(self.port),
            WEB_CONCURRENCY=str(self.workers),
            GUNICORN_MAX_REQUESTS="0",  # no worker is replaced during a run
            GUNICORN_CMD_ARGS=shlex.join(
                ["--access-logfile", str(self.access_log), "--access-logformat", fmt]
            ),
        )
        self._spawn("worker", "start-worker.sh", CELERY_CONCURRENCY="1")
        deadline = time.monotonic() + 60
        while self.request("GET", "/api/hello")[0].status != 200:
            if self.processes["web"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {self.root / 'web.log'}")
            time.sleep(0.2)
        log(f"gunicorn on port {self.port}, workers {sorted(self.worker_pids())}")

    def worker_pids(self) -> set[int]:
        """The gunicorn master's children now."""
        import psutil  # pgserver's dependency

        return {child.pid for child in psutil.Process(self.processes["web"].pid).children()}

    def close(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
        for out in self._logs:
            out.close()  # type: ignore[attr-defined]
        self.redis.close()
        self.postgres.close()

    # -- requests

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        *,
        op: str = "",
        bearer: str | None = None,
        host: str = HOST,
        headers: dict[str, str] | None = None,
        timeout: float = 15,
    ) -> tuple[Answer, dict[str, object]]:
        """One request on a new connection (sync workers close each after one answer)."""
        probe = f"p{next(self._probes)}"
        headers = {
            "Host": host,
            PROBE_HEADER: probe,
            "X-Forwarded-Proto": "https",
            **(headers or {}),
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        answer = Answer(op or path, time.monotonic(), 0.0, 0, probe)
        payload: dict[str, object] = {}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            answer.status = response.status
            with contextlib.suppress(ValueError):
                loaded = json.loads(raw)
                payload = loaded if isinstance(loaded, dict) else {}
            answer.content_type = response.getheader("Content-Type") or ""
            if response.status >= 400 and answer.content_type.startswith("application/json"):
                answer.code = str(payload.get("code"))
                answer.shaped = isinstance(payload.get("detail"), str) and "code" in payload
                if response.status == 503:
                    answer.shaped = answer.shaped and bool(response.getheader("Retry-After"))
            elif response.status >= 400:
                answer.shaped = False
                answer.retry_after = response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as exc:
            answer.error = type(exc).__name__
        finally:
            conn.close()
            answer.done = time.monotonic()
        return answer, payload

    def pid_of(self, probe: str, wait: float = 2.0) -> int | None:
        """The worker that answered `probe`, from gunicorn's access log (which a worker writes
        just after its answer: waits up to `wait` s for the line)."""
        deadline = time.monotonic() + wait
        while probe not in self._pid_cache and time.monotonic() < deadline:
            self._read_access_log()
            if probe not in self._pid_cache:
                time.sleep(0.02)
        return self._pid_cache.get(probe)

    def _read_access_log(self) -> None:
        with self._pid_lock, open(self.access_log, "rb") as f:
            f.seek(self._log_offset)
            for line in f:
                if not line.endswith(b"\n"):
                    break
                self._log_offset += len(line)
                parts = line.decode(errors="replace").split()
                if len(parts) == 3:
                    self._pid_cache[parts[2]] = int(parts[0].strip("<>"))

    def login(self, username: str = ADMIN, password: str = PASSWORD) -> dict[str, object]:
        answer, payload = self.request(
            "POST", "/api/auth/token/", {"username": username, "password": password}, op="login"
        )
        assert answer.status == 200, (answer, payload)
        return payload

    def ready(self) -> tuple[int, dict[str, object]]:
        answer, payload = self.request("GET", "/readyz", op="readyz")
        return answer.status, payload

    def run_task(self, name: str, *args: object, timeout: float = 60) -> object:
        """Send a task to the Celery worker through the stack's Redis; its result."""
        from celery import Celery

        url = _celery_url(self.redis.url)
        app = Celery("faults-client", broker=url, backend=url, set_as_current=False)
        try:
            return app.send_task(name, args=args).get(timeout=timeout)
        finally:
            app.close()


@contextlib.contextmanager
def running_stack(workers: int = 2, *, verify_search_path: bool = False) -> Iterator[Stack]:
    """A Stack in a fresh short-named folder (unix socket paths are short), removed after."""
    root = Path(tempfile.mkdtemp(prefix="ta-faults-", dir="/tmp"))
    root.chmod(0o755)  # pgserver runs PostgreSQL as another user when we are root
    stack = None
    try:
        stack = Stack(root, workers=workers, verify_search_path=verify_search_path)
        stack.prepare()
        stack.start()
        yield stack
    finally:
        if stack is not None:
            stack.close()
        shutil.rmtree(root, ignore_errors=True)


# --- load -------------------------------------------------------------------------------------


@dataclass
class Load:
    """`threads` clients, each: log in, then user, refresh, verify in turn (a fresh login every
    `login_every` rounds, and whenever its refresh token was refused)."""

    stack: Stack
    threads: int = 4
    login_every: int = 10
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _record(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def _client(self) -> None:
        stack = self.stack
        access = refresh = None
        rounds = 0
        while not self._stop.is_set():
            rounds += 1
            if access is None or rounds % self.login_every == 1:
                answer, payload = stack.request(
                    "POST", "/api/auth/token/", {"username": ADMIN, "password": PASSWORD},
                    op="login",
                )  # fmt: skip
                self._record(answer)
                if answer.status == 200:
                    access, refresh = payload["access"], payload["refresh"]
                elif access is None:  # nothing to go on with: log in again
                    time.sleep(0.05)
                    continue
            answer, _ = stack.request("GET", "/api/user/", op="user", bearer=str(access))
            self._record(answer)
            answer, payload = stack.request(
                "POST", "/api/auth/token/refresh/", {"refresh": refresh}, op="refresh"
            )
            self._record(answer)
            if answer.status == 200:
                access, refresh = payload["access"], payload["refresh"]
            elif answer.status == 401:  # refused (not expected): start again with a login
                access = None
                continue
            # Not rotated (a 503): both tokens are still good.
            answer, _ = stack.request(
                "POST", "/api/auth/token/verify/", {"token": access}, op="verify"
            )
            self._record(answer)

    def __enter__(self) -> Load:
        for i in range(self.threads):
            thread = threading.Thread(target=self._client, name=f"load-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.sent < end]


def by_status(answers: list[Answer]) -> dict[str, int]:
    """Counts by "200", "503 database_unavailable", "no answer: RemoteDisconnected", ..."""
    counts: Counter[str] = Counter()
    for a in answers:
        if a.status == 0:
            counts[f"no answer: {a.error}"] += 1
        elif a.status >= 400:
            counts[f"{a.status} {a.code}" + ("" if a.shaped else " (not in the error shape)")] += 1
        else:
            counts[str(a.status)] += 1
    return dict(sorted(counts.items()))


def latency_ms(answers: list[Answer]) -> dict[str, float]:
    values = sorted(a.latency * 1000 for a in answers)
    if not values:
        return {}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p95": round(values[min(len(values) - 1, int(len(values) * 0.95))], 1),
        "max": round(values[-1], 1),
    }


# --- the faults -------------------------------------------------------------------------------


def postgres_restart(
    stack: Stack,
    *,
    threads: int = 4,
    warmup: float = 1,
    before: float = 2,
    outage: float = 3,
    after: float = 10,
    during: Callable[[], object] | None = None,
) -> dict[str, object]:
    """Load; PostgreSQL stopped (fast) for `outage` s (`during()` called meanwhile) and started
    again; load until `after` s past the start. Returns the answers by phase, the workers before
    and after, and the time from PostgreSQL's return to each worker's first 200 to a login or
    refresh (which always need it)."""
    pids_before = stack.worker_pids()
    with Load(stack, threads=threads) as load:
        time.sleep(warmup)
        measured = time.monotonic()
        time.sleep(before)
        stopping = time.monotonic()
        log("stopping PostgreSQL (fast) ...")
        stack.postgres.stop()
        stopped = time.monotonic()
        seen_during = during() if during is not None else None
        time.sleep(max(0.0, outage - (time.monotonic() - stopped)))
        log("starting PostgreSQL ...")
        stack.postgres.start()
        started = time.monotonic()
        time.sleep(after)
        end = time.monotonic()
    pids_after = stack.worker_pids()
    first_ok: dict[int, float] = {}
    for a in sorted(load.between(started, end), key=lambda a: a.done):
        if a.op in ("login", "refresh") and a.status == 200:
            pid = stack.pid_of(a.probe)
            if pid is not None and pid not in first_ok:
                first_ok[pid] = round(a.done - started, 2)
    ops = sorted({a.op for a in load.answers})
    outage_answers = load.between(stopping, started)
    return {
        "threads": threads,
        "outage_s": round(started - stopping, 2),
        "stop_s": round(stopped - stopping, 2),
        "before": by_status(load.between(measured, stopping)),
        "outage": by_status(outage_answers),
        "outage_by_op": {op: by_status([a for a in outage_answers if a.op == op]) for op in ops},
        "outage_503_latency_ms": latency_ms([a for a in outage_answers if a.status == 503]),
        "after": by_status(load.between(started, end)),
        "last_2s": by_status([a for a in load.between(started, end) if a.sent >= end - 2]),
        "all": load.answers,
        "workers_before": sorted(pids_before),
        "workers_after": sorted(pids_after),
        "first_200_after_start_s": {str(pid): s for pid, s in sorted(first_ok.items())},
        "during": seen_during,
    }


def redis_stop(
    stack: Stack,
    *,
    threads: int = 4,
    warmup: float = 1,
    before: float = 3,
    outage: float = 4,
    after: float = 0,
    cache_probe: str | None = None,
) -> dict[str, object]:
    """Load; Redis stopped for `outage` s (with /readyz asked meanwhile) and started again; load
    for `after` s more. Returns answers and latencies by phase and op, /readyz during the outage,
    the seconds from Redis's return to /readyz 200 and (with an access token as `cache_probe`)
    to every worker's caches serving again."""
    with Load(stack, threads=threads) as load:
        time.sleep(warmup)
        measured = time.monotonic()
        time.sleep(before)
        stopping = time.monotonic()
        log("stopping Redis ...")
        stack.redis.stop()
        stopped = time.monotonic()
        time.sleep(outage / 2)
        asked = time.monotonic()
        ready_status, ready_body = stack.ready()
        ready_s = time.monotonic() - asked
        time.sleep(max(0.0, outage - (time.monotonic() - stopped)))
        log("starting Redis ...")
        stack.redis.start()
        started = time.monotonic()
        readyz_back = wait_until(lambda: stack.ready()[0] == 200, timeout=30, step=0.1)
        caches_back = None
        if cache_probe is not None:
            wait_until(lambda: both_workers_cache(stack, cache_probe), timeout=60, step=0.2)
            caches_back = time.monotonic() - started
        time.sleep(max(0.0, after - (time.monotonic() - started)))
        end = time.monotonic()
    normal, down, back = (
        load.between(measured, stopping),
        load.between(stopping, started),
        load.between(started, end),
    )
    ops = sorted({a.op for a in load.answers})
    return {
        "threads": threads,
        "outage_s": round(started - stopping, 2),
        "stop_s": round(stopped - stopping, 2),
        "normal": by_status(normal),
        "outage": by_status(down),
        "after": by_status(back),
        "latency_normal_ms": {op: latency_ms([a for a in normal if a.op == op]) for op in ops},
        "latency_outage_ms": {op: latency_ms([a for a in down if a.op == op]) for op in ops},
        "latency_after_ms": {op: latency_ms([a for a in back if a.op == op]) for op in ops},
        "readyz_during": {"status": ready_status, "body": ready_body, "took_s": round(ready_s, 2)},
        "readyz_200_after_start_s": round(readyz_back, 2),
        "caches_serve_after_start_s": None if caches_back is None else round(caches_back, 2),
        "all": load.answers,
    }


def set_first_name(stack: Stack, name: str) -> None:
    """Behind the caches' back: raw SQL sends no invalidation."""
    import psycopg

    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            f'UPDATE "{SCHEMA}".authapi_user SET first_name = %s WHERE username = %s',
            (name, ADMIN),
        )


def user_from_both_workers(stack: Stack, access: str) -> dict[int, set[object]]:
    """GET /api/user/ from several threads at once until both workers have answered; per worker
    pid, the first names (or statuses, when not 200) it gave."""
    seen: dict[int, set[object]] = {}
    lock = threading.Lock()

    def ask() -> None:
        for _ in range(3):
            answer, body = stack.request("GET", "/api/user/", bearer=access)
            pid = stack.pid_of(answer.probe)
            assert pid is not None, f"{answer.probe} is not in gunicorn's access log"
            with lock:
                seen.setdefault(pid, set()).add(
                    body.get("first_name") if answer.status == 200 else answer.status
                )

    for _ in range(10):
        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(seen) >= stack.workers:
            break
    return seen


def both_workers_cache(stack: Stack, access: str) -> bool:
    """Whether every worker's user cache serves: a worker whose invalidation listener is
    subscribed caches the user, so it keeps answering the name it had before a change made
    behind its back; one without its subscription reads the database every time and answers
    the new name."""
    import secrets

    user_from_both_workers(stack, access)  # warm every worker
    changed = secrets.token_hex(4)
    set_first_name(stack, changed)
    seen = user_from_both_workers(stack, access)
    return len(seen) >= stack.workers and all(changed not in names for names in seen.values())


def summary(result: dict[str, object]) -> dict[str, object]:
    """A fault's result without its list of every answer."""
    return {k: v for k, v in result.items() if k != "all"}


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.2) -> float:
    """Seconds until `check()` is true (TimeoutError after `timeout`)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not true within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start
