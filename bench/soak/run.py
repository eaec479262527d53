"""Soak: the production config under a realistic mix for 10 minutes at ~80% of its capacity.

    .venv/bin/python bench/soak/run.py                 # 10 minutes of soak (~13 minutes in all)
    .venv/bin/python bench/soak/run.py --quick         # 1 minute, a shorter capacity run
    .venv/bin/python bench/soak/run.py --minutes 30

(`make bench-soak` runs the first; BENCH_ARGS adds options.) bench/soak/README.md has the how
and why; in short:

1. A fresh database on the embedded PostgreSQL (or DATABASE_URL's server) and an embedded Redis
   (or REDIS_URL), in a throwaway folder. 50 clients onboarded through the template copy, 2
   customers each (`--clients`, `--users-per-client`), 4 API keys per client expiring during
   the run.
2. The three processes of deploy/Procfile through their own start scripts: gunicorn with
   deploy/gunicorn.conf.py and WEB_CONCURRENCY=2, a Celery worker (prefork, 2 processes) and
   Celery beat, DEBUG off, with short lifetimes so that tokens and sessions expire and are purged
   during the run (access 60 s, refresh 180 s, session 600 s, a purge every 30 s).
3. bench/soak/driver.py (asyncio, `--drivers` processes, each its own share of the sessions):
   every session logs in; a closed-loop run measures the mix's capacity; then the mix runs open
   loop at `--load` (0.8) of it for `--minutes`.
4. RSS of every process (gunicorn master and workers, Celery worker and its pool, beat,
   PostgreSQL's processes, Redis, the drivers) every 2 s with psutil.
5. After the soak: the rows left behind (what beat's purges left), then a purge to completion
   and the expired rows left after it (target 0).

Writes bench/soak/results/latest.json, latest.md and latest.png (`--name` for another name).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from bench.soak import report  # noqa: E402

VENV_BIN = Path(sys.executable).parent
RESULTS = HERE / "results"
DATABASE = "tenantauth_bench_soak"
WORKERS = 2  # gunicorn workers, as deploy/ runs them on a 2-core box
# The mix, by weight, for requests whose tokens do not call for a login or a refresh.
# A logout is followed by a login (Argon2id, 0.3-0.8 s of a worker here): one in two thousand.
WEIGHTS = {"user": 60, "verify": 25, "refresh": 12, "logout": 0.05}
RSS_INTERVAL = 2.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- set-up ---------------------------------------------------------------------------------


def environment(tmp: Path, args: argparse.Namespace) -> dict[str, str]:
    import psycopg

    from core import embedded

    extra = embedded.environment(tmp)  # embedded servers and keys for what the env lacks
    server_url = os.environ.get("DATABASE_URL") or extra["DATABASE_URL"]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    env = dict(os.environ, **extra)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",  # the start scripts exec by name
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="core.settings",
        DATABASE_URL=urlunsplit(urlsplit(server_url)._replace(path="/" + DATABASE)),
        DEBUG="false",
        TENANTAUTH_DATA_DIR=str(tmp),
        BIND_HOST="127.0.0.1",
        PORT=str(args.port),
        WEB_CONCURRENCY=str(WORKERS),
        # A leak would hide behind gunicorn's recycling of workers (deploy's default: every
        # 10,000 requests +-1,000, i.e. every half minute at this load), so none here.
        GUNICORN_MAX_REQUESTS="0",
        CELERY_CONCURRENCY="2",
        CELERY_BEAT_SCHEDULE_FILE=str(tmp / "celerybeat-schedule"),
        # The driver is the nginx in front: it appends each session's own address.
        TRUSTED_PROXIES="127.0.0.1/32",
        # Password checks of one client at once, across workers: as many as there are workers
        # (bench/http does the same), so two sessions of one client logging in together are
        # not a 429. The failure limits stay at their defaults: no login here fails.
        LOGIN_HASH_CONCURRENCY=str(WORKERS),
        ACCESS_TOKEN_LIFETIME_SECONDS=str(args.access_lifetime),
        REFRESH_TOKEN_LIFETIME_SECONDS=str(args.refresh_lifetime),
        SESSION_MAX_LIFETIME_SECONDS=str(args.session_lifetime),
        PURGE_INTERVAL_SECONDS=str(args.purge_interval),
        LOG_LEVEL="info",
    )
    for item in args.server_env:  # e.g. HOTPATH_OFF=tokens, for a diagnosis
        key, _, value = item.partition("=")
        env[key] = value
    return env


def child(step: str, env: dict[str, str], *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(HERE / "prepare.py"), step, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"prepare.py {step} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


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


# --- the production processes -----------------------------------------------------------------


class Stack:
    """deploy/Procfile's three processes, through the image's start scripts."""

    SCRIPTS = {"web": "start-web.sh", "worker": "start-worker.sh", "beat": "start-beat.sh"}

    def __init__(self, env: dict[str, str], tmp: Path):
        self.tmp = tmp
        self.logs = {name: tmp / f"{name}.log" for name in self.SCRIPTS}
        self.processes: dict[str, subprocess.Popen] = {}
        for name, script in self.SCRIPTS.items():
            with open(self.logs[name], "wb") as out:
                self.processes[name] = subprocess.Popen(
                    [str(ROOT / "deploy" / script)], cwd=ROOT, env=env, stdout=out, stderr=out
                )

    def wait_ready(self, port: int, host: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    sys.exit(f"{name} exited; see {self.logs[name]}:\n{self.tail(name)}")
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/hello",
                headers={"Host": host, "X-Forwarded-Proto": "https"},
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200 and "ready" in self.tail("worker", 4000):
                        return
            except OSError:
                pass
            time.sleep(0.3)
        sys.exit(f"the stack did not come up; see {self.tmp}")

    def tail(self, name: str, size: int = 3000) -> str:
        return self.logs[name].read_bytes()[-size:].decode(errors="replace")

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def log_counts(self) -> dict:
        """What the logs say: purge tasks run and what they deleted, errors logged."""
        worker = self.logs["worker"].read_text(errors="replace")
        purged = {"tasks": 0, "outstanding": 0, "blacklisted": 0, "sessions": 0, "api_tokens": 0}
        for line in worker.splitlines():
            if "event=tokens_purged" not in line:
                continue
            purged["tasks"] += 1
            for part in line.split():
                key, _, value = part.partition("=")
                if key in purged and value.isdigit():
                    purged[key] += int(value)
        counts = {
            "purge_dispatches": worker.count("event=tokens_purge_dispatched"),
            "purged": purged,
            "task_failures": worker.count("raised unexpected") + worker.count("Retry in"),
        }
        for name in self.SCRIPTS:
            text = self.logs[name].read_text(errors="replace")
            counts[f"{name}_tracebacks"] = text.count("Traceback")
            counts[f"{name}_log_errors"] = sum(
                1 for line in text.splitlines() if " ERROR" in line or '"level": "ERROR"' in line
            )
        return counts


def redis_summary(url: str) -> dict:
    """Redis's memory and its keys by kind, at the end (what its RSS holds)."""
    import redis

    client = redis.Redis.from_url(url)
    kinds: dict[str, int] = {}
    for key in client.scan_iter(count=1000):
        name = key.decode(errors="replace")
        kind = "celery-task-meta" if name.startswith("celery-task-meta-") else name.split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    info = client.info("memory")
    return {"used_memory_mb": round(info["used_memory"] / 2**20, 2), "keys": kinds}


# --- RSS of every process ---------------------------------------------------------------------


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class RssSampler(threading.Thread):
    """Every RSS_INTERVAL seconds: the RSS of each process of the stack, by role (one series per
    process; a pid that changes under a role is noted as a restart)."""

    def __init__(self, stack: Stack, tmp: Path, start: float):
        super().__init__(daemon=True)
        self.stack, self.tmp, self.start_at = stack, tmp, start
        self.samples: list[dict] = []
        self.pids: dict[str, list[int]] = {}
        self.driver_pids: list[int] = []
        self.stopping = threading.Event()
        self.postmaster = next(iter(tmp.glob("**/postmaster.pid")), None)

    def roles(self) -> dict:
        import psutil

        found: dict[str, psutil.Process] = {}

        def add(role: str, pid: int | None) -> None:
            if pid is None:
                return
            with contextlib.suppress(psutil.NoSuchProcess):
                found[role] = psutil.Process(pid)

        for name, label in (("web", "gunicorn"), ("worker", "celery worker"), ("beat", "beat")):
            process = self.stack.processes[name]
            add(f"{label} master" if name != "beat" else "celery beat", process.pid)
            if name in ("web", "worker") and f"{label} master" in found:
                children = sorted(found[f"{label} master"].children(), key=lambda p: p.pid)
                kind = "worker" if name == "web" else "pool"
                for n, kid in enumerate(children, start=1):
                    found[f"{label} {kind} {n}"] = kid
        if self.postmaster is not None:
            add("postgres postmaster", _pid_file(self.postmaster))
        add("redis", _pid_file(self.tmp / "redis" / "redis.pid"))
        for n, pid in enumerate(self.driver_pids, start=1):
            add(f"driver {n}", pid)
        return found

    def sample(self) -> dict:
        import psutil

        at = round(time.time() - self.start_at, 1)
        rss: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for role, process in self.roles().items():
            try:
                rss[role] = process.memory_info().rss / 2**20
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            cpu[role] = times.user + times.system
            pids = self.pids.setdefault(role, [])
            if not pids or pids[-1] != process.pid:
                pids.append(process.pid)
            if role == "postgres postmaster":
                backends = {"postgres backends": 0.0, "postgres other": 0.0}
                count = 0
                for kid in process.children():
                    try:
                        info = kid.memory_info().rss / 2**20
                        line = " ".join(kid.cmdline())
                    except psutil.NoSuchProcess:
                        continue
                    # A client's backend: "postgres: user db 127.0.0.1(port) idle"
                    if "(" in line or "[local]" in line:
                        backends["postgres backends"] += info
                        count += 1
                    else:
                        backends["postgres other"] += info
                    with contextlib.suppress(psutil.NoSuchProcess):
                        kid_times = kid.cpu_times()
                        cpu[role] += kid_times.user + kid_times.system
                rss.update(backends)
                rss["postgres backends count"] = count
                # The backends that have exited, as the postmaster collected them.
                cpu[role] += times.children_user + times.children_system
        machine = psutil.cpu_times()
        cpu["machine busy"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return {
            "t": at,
            "rss": {k: round(v, 2) for k, v in rss.items()},
            "cpu": {k: round(v, 2) for k, v in cpu.items()},
        }

    def run(self) -> None:
        while not self.stopping.is_set():
            self.samples.append(self.sample())
            self.stopping.wait(RSS_INTERVAL)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


# --- load -----------------------------------------------------------------------------------


class Drivers:
    """`count` driver processes, each with its own share of the sessions and of the rate."""

    def __init__(self, args: argparse.Namespace, tmp: Path, setup: dict):
        self.args, self.tmp, self.password = args, tmp, setup["password"]
        sessions = [
            (client["host"], user, f"10.{n // 250}.{n % 250}.{u + 1}")
            for n, client in enumerate(setup["clients"])
            for u, user in enumerate(client["users"])
        ]
        self.count = args.drivers
        self.sessions = len(sessions)
        for d in range(self.count):
            (tmp / f"sessions-{d}.json").write_text(json.dumps(sessions[d :: self.count]))

    def run(self, mode: str, sampler: RssSampler | None = None, **options: float) -> dict:
        """Windows of the phase are counted from its start."""
        start = time.time()
        processes = []
        for d in range(self.count):
            command = [sys.executable, str(HERE / "driver.py"), mode]
            command += ["--port", str(self.args.port), "--password", self.password]
            command += ["--sessions", str(self.tmp / f"sessions-{d}.json")]
            command += ["--state", str(self.tmp / f"state-{d}.json")]
            command += ["--start", str(start), "--weights", json.dumps(WEIGHTS)]
            command += ["--seed", str(d + 1 + int(start))]
            command += ["--session-lifetime", str(self.args.session_lifetime)]
            for key, value in options.items():
                command += [f"--{key}", str(value)]
            processes.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
        if sampler is not None:
            sampler.driver_pids = [p.pid for p in processes]
        windows: dict[int, list[dict]] = {}
        cpu = 0.0
        lock = threading.Lock()

        def read(process: subprocess.Popen) -> None:
            nonlocal cpu
            for line in process.stdout:
                data = json.loads(line)
                with lock:
                    if data.get("done"):
                        cpu += data["cpu_seconds"]
                    else:
                        windows.setdefault(data["window"], []).append(data)

        readers = [threading.Thread(target=read, args=(p,)) for p in processes]
        for thread in readers:
            thread.start()
        shown = -1
        while any(p.poll() is None for p in processes):
            time.sleep(1)
            if mode == "open":
                with lock:
                    ready = [w for w in sorted(windows) if w > shown and w < max(windows)]
                    for w in ready:
                        merged = report.merge(w, windows[w], self.args.window)
                        log("  " + report.window_line(merged))
                        shown = w
        for thread in readers:
            thread.join()
        for process in processes:
            if process.returncode != 0:
                sys.exit(f"driver {mode} failed:\n{process.stderr.read()}")
        if sampler is not None:
            sampler.driver_pids = []
        merged = [report.merge(w, windows[w], self.args.window) for w in sorted(windows)]
        return {"windows": merged, "driver_cpu_seconds": round(cpu, 2)}


def capacity(drivers: Drivers, args: argparse.Namespace) -> dict:
    """Closed loop: `--capacity-concurrency` requests in flight, for warm-up + measurement; the
    answered requests per second over the measurement (windows after the warm-up)."""
    result = drivers.run(
        "closed",
        duration=args.capacity_warmup + args.capacity_seconds,
        concurrency=max(1, args.capacity_concurrency // drivers.count),
    )
    end = args.capacity_warmup + args.capacity_seconds
    measured = [
        w
        for w in result["windows"]
        if w["t"] >= args.capacity_warmup and w["t"] + args.window <= end
    ]
    answered = sum(w["requests"] - w["error_count"] for w in measured)
    seconds = len(measured) * args.window
    totals = report.totals(measured)
    return {
        "rps": round(answered / seconds, 1),
        "seconds": seconds,
        "concurrency": args.capacity_concurrency,
        "driver_cpu_seconds": result["driver_cpu_seconds"],
        "errors": sum(w["error_count"] for w in measured),
        "totals": totals,
    }


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10, help="length of the soak")
    parser.add_argument("--quick", action="store_true", help="a 1-minute check")
    parser.add_argument("--load", type=float, default=0.8, help="share of measured capacity")
    parser.add_argument("--rate", type=float, help="requests/s of the soak (skips capacity)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users-per-client", type=int, default=2)
    parser.add_argument("--drivers", type=int, default=2, help="load generator processes")
    parser.add_argument("--capacity-seconds", type=int, default=40)
    parser.add_argument("--capacity-warmup", type=int, default=10)
    parser.add_argument("--capacity-concurrency", type=int, default=16)
    parser.add_argument("--access-lifetime", type=int, default=60)
    parser.add_argument("--refresh-lifetime", type=int, default=180)
    parser.add_argument("--session-lifetime", type=int, default=600)
    parser.add_argument("--purge-interval", type=int, default=30)
    parser.add_argument("--warmup", type=float, default=60, help="seconds of soak before RSS base")
    parser.add_argument("--window", type=float, default=10)
    parser.add_argument("--port", type=int, default=18400)
    parser.add_argument("--name", default="latest", help="results/<name>.json, .md, .png")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more environment variable for the servers (repeatable)",
    )
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.capacity_seconds, args.capacity_warmup, args.warmup = 1, 20, 10, 20
        # Short enough that tokens and sessions expire (and are purged) within the minute.
        args.access_lifetime, args.refresh_lifetime, args.session_lifetime = 20, 40, 120
        args.purge_interval, args.users_per_client = 15, 1
    RESULTS.mkdir(exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix="tenantauth-bench-soak-"))
    if not args.keep:
        # Registered before the embedded servers' own exit handlers, so it runs after them.
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    started, started_at, code = time.monotonic(), time.strftime("%Y-%m-%d %H:%M:%S"), code_version()
    load_before = os.getloadavg()
    stack = None
    sampler = None
    try:
        env = environment(tmp, args)
        soak_seconds = int(args.minutes * 60)
        log(f"onboarding {args.clients} clients, {args.users_per_client} users each ...")
        setup = child(
            "setup",
            env,
            "--clients",
            str(args.clients),
            "--users",
            str(args.users_per_client),
            "--key-expiry-seconds",
            str(soak_seconds + args.capacity_seconds + 120),
        )
        log(
            f"onboarded in {setup['onboard_seconds']} s; one {setup['hasher']} check "
            f"{setup['hasher_ms']} ms"
        )
        stack = Stack(env, tmp)
        stack.wait_ready(args.port, setup["clients"][0]["host"])
        t0 = time.time()
        sampler = RssSampler(stack, tmp, t0)
        sampler.start()
        drivers = Drivers(args, tmp, setup)
        phases: dict[str, dict] = {}

        log(f"logging in {drivers.sessions} sessions ...")
        began = time.time()
        prime = drivers.run("prime", sampler)
        phases["prime"] = {"from": 0.0, "to": round(time.time() - t0, 1)}
        prime_errors = report.totals(prime["windows"])["error_kinds"]
        log(f"  {drivers.sessions} logins in {time.time() - began:.1f} s, errors {prime_errors}")

        if args.rate:
            cap = {"rps": None, "note": "--rate given"}
            rate = args.rate
        else:
            log(f"capacity: closed loop, {args.capacity_concurrency} in flight ...")
            began = time.time() - t0
            cap = capacity(drivers, args)
            phases["capacity"] = {"from": round(began, 1), "to": round(time.time() - t0, 1)}
            rate = round(cap["rps"] * args.load, 1)
            log(
                f"  capacity {cap['rps']} req/s (errors {cap['totals']['error_kinds']}); "
                f"soak at {rate} req/s"
            )
            if not cap["rps"]:
                sys.exit("no capacity measured")

        log(f"soak: {rate} req/s open loop for {soak_seconds} s ...")
        began = time.time() - t0
        load_at_soak = os.getloadavg()
        soak = drivers.run("open", sampler, duration=soak_seconds, rate=rate / drivers.count)
        ended = time.time() - t0
        phases["soak"] = {"from": round(began, 1), "to": round(ended, 1)}
        load_after = os.getloadavg()
        time.sleep(RSS_INTERVAL * 2)  # a few samples after the load stopped
        sampler.stop()

        log("rows left behind by beat's purges, then a purge to completion ...")
        left = child("rows", env)
        purged = child("purge", env)
        redis_keys = redis_summary(env["REDIS_URL"])
        alive = stack.alive()
        stack.stop()
        logs = stack.log_counts()
        stack = None

        result = {
            "command": " ".join(["python", *sys.argv]),
            "started": started_at,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": round(time.monotonic() - started),
            "cpus": os.cpu_count(),
            "load_average": {
                "before": [round(x, 2) for x in load_before],
                "soak_start": [round(x, 2) for x in load_at_soak],
                "soak_end": [round(x, 2) for x in load_after],
            },
            "code": code,
            "settings": {
                "minutes": args.minutes,
                "load": args.load,
                "clients": args.clients,
                "users_per_client": args.users_per_client,
                "sessions": drivers.sessions,
                "drivers": args.drivers,
                "weights": WEIGHTS,
                "gunicorn_workers": WORKERS,
                "celery_concurrency": 2,
                "access_lifetime_s": args.access_lifetime,
                "refresh_lifetime_s": args.refresh_lifetime,
                "session_lifetime_s": args.session_lifetime,
                "purge_interval_s": args.purge_interval,
                "warmup_s": args.warmup,
                "window_s": args.window,
                "server_env": args.server_env,
            },
            "setup": {k: v for k, v in setup.items() if k not in ("clients", "password")},
            "phases": phases,
            "capacity": cap,
            "rate": rate,
            "soak": {
                "windows": report.strip(soak["windows"]),
                "driver_cpu_seconds": soak["driver_cpu_seconds"],
                "totals": report.totals(soak["windows"]),
            },
            "rss": {"samples": sampler.samples, "pids": sampler.pids},
            "rows_left_by_beat": left,
            "final_purge": purged,
            "processes_alive_at_end": alive,
            "redis_at_end": redis_keys,
            "logs": logs,
        }
        result["verdicts"] = report.verdicts(result)
        out = RESULTS / args.name
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        report.chart(result, out.with_suffix(".png"))
        text = report.markdown(result, out.with_suffix(".png").name)
        out.with_suffix(".md").write_text(text)
        log("\n" + text)
        log(f"written: {out}.json, .md, .png")
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if stack is not None:
            stack.stop()
        if args.keep:
            log(f"data kept in {tmp}")
        else:
            from core import embedded

            embedded.stop_redis(tmp)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
