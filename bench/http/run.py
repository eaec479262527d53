"""HTTP benchmark: tenantauth against DRF + SimpleJWT + django-tenants, side by side.

    .venv/bin/python bench/http/run.py                 # full run (about 10 minutes)
    .venv/bin/python bench/http/run.py --quick         # 1 round of 2 s per scenario, 1 worker

(`make bench-http` installs the bench extra and runs the full run.)

Starts every server the production way — gunicorn with deploy/gunicorn.conf.py (sync workers,
access log on) — first with one worker pinned to CPU 0 while wrk runs pinned to CPU 1, then with
two workers unpinned. Servers, all on the same embedded PostgreSQL and Redis:

  ours        core.wsgi (tenantauth)                    ours_fast   same, MD5 password hasher
  peer        bench/peers/drf_tenants                   peer_fast   same, MD5 password hasher
  bare        bench/peers/bare_wsgi.py (the server's own ceiling)

Scenarios (all on the tenant host bench.localhost, X-Forwarded-Proto: https as behind nginx):

  hello       GET /api/hello                  trivial JSON through the whole middleware stack
  user        GET /api/user/                  with a Bearer access token
  user_token  GET /api/user/                  with a static API key (`Authorization: Token …`):
                                              ours from authapi.api_tokens, the peer's DRF's own
                                              rest_framework.authtoken TokenAuthentication
  verify      POST /api/auth/token/verify/    an access token
  refresh     POST /api/auth/token/refresh/   each request its own fresh refresh token
  login       POST /api/auth/token/           production hasher (Argon2id)
  login_fast  POST /api/auth/token/           MD5 hasher, so what login costs outside hashing shows

Each (round, scenario) runs every server back to back (the order alternates between rounds),
after a short warm-up. Ratios are taken within a round and the median over rounds is reported,
so a noisy neighbour shifts both sides of a ratio alike. Writes bench/http/results/latest.json,
latest.md (the tables) and chart.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from bench.secrets_env import app_secrets  # noqa: E402

VENV_BIN = Path(sys.executable).parent
RESULTS = HERE / "results"
HOST = "bench.localhost"
PASSWORD = "correct horse battery staple"
DBS = {"ours": "tenantauth_bench_http", "peer": "tenantauth_bench_peer"}

SERVERS = {
    # name: (app, settings module, wsgi app)
    "ours": ("ours", "core.settings", "core.wsgi:application"),
    "ours_fast": ("ours", "bench.http.settings_fast", "core.wsgi:application"),
    "peer": (
        "peer",
        "bench.peers.drf_tenants.settings",
        "bench.peers.drf_tenants.wsgi:application",
    ),
    "peer_fast": (
        "peer",
        "bench.peers.drf_tenants.settings_fast",
        "bench.peers.drf_tenants.wsgi:application",
    ),
    "bare": (None, None, "bench.peers.bare_wsgi:application"),
}

# scenario: (method, path, body, uses refresh tokens, credential in the Authorization header
# (AUTH_HEADERS), servers as (ours, peer))
SCENARIOS = {
    "hello": ("GET", "/api/hello", "", False, "", ("ours", "peer", "bare")),
    "user": ("GET", "/api/user/", "", False, "access", ("ours", "peer")),
    "user_token": ("GET", "/api/user/", "", False, "api_key", ("ours", "peer")),
    "verify": (
        "POST",
        "/api/auth/token/verify/",
        '{"token": "ACCESS"}',
        False,
        "",
        ("ours", "peer"),
    ),
    "refresh": (
        "POST",
        "/api/auth/token/refresh/",
        '{"refresh": "{token}"}',
        True,
        "",
        ("ours", "peer"),
    ),
    "login": (
        "POST",
        "/api/auth/token/",
        json.dumps({"username": "bench", "password": PASSWORD}),
        False,
        "",
        ("ours", "peer"),
    ),
    "login_fast": (
        "POST",
        "/api/auth/token/",
        json.dumps({"username": "benchfast", "password": PASSWORD}),
        False,
        "",
        ("ours_fast", "peer_fast"),
    ),
}

# The Authorization header of a scenario, from what prepare.py made for the app.
AUTH_HEADERS = {"access": "Bearer {access}", "api_key": "Token {api_key}"}

# The targets: scenario -> minimum ratio ours / peer (medians of per-round ratios).
# user_token has none of its own there: only its ratio to user (RATIO_TARGETS).
TARGETS = {"hello": 3.0, "user": 2.5, "verify": 3.0, "refresh": 2.0}
# Targets of the other ratios: ratio -> minimum.
RATIO_TARGETS = {"user / hello (ours)": 0.6, "user_token / user (ours)": 0.9}


def auth_header(kind: str, prepared: dict) -> str:
    """The Authorization header's value for credential `kind` ("" for none)."""
    return AUTH_HEADERS[kind].format(**prepared) if kind else ""


def log(message: str) -> None:
    print(message, flush=True)


# --- setup ----------------------------------------------------------------------------------


def ensure_tools() -> None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if "wrk" in missing and os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk from Debian's packages ...")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        missing.remove("wrk")
    if missing:
        sys.exit(f"needs {', '.join(missing)} (Debian: apt-get install wrk util-linux)")


def start_databases(tmp: Path) -> tuple[dict[str, str], str]:
    """Fresh databases for ours and the peer on one PostgreSQL server; returns URLs + Redis URL."""
    import psycopg

    from core import embedded

    server_url = os.environ.get("DATABASE_URL") or embedded.ensure_postgres(tmp)
    redis_url = os.environ.get("REDIS_URL") or embedded.ensure_redis(tmp)
    urls = {}
    with psycopg.connect(server_url, autocommit=True) as conn:
        for app, name in DBS.items():
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
            urls[app] = _with_database(server_url, name)
    return urls, redis_url


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def prepare(app: str, env: dict[str, str], out: Path, refresh: int) -> dict:
    subprocess.run(
        [sys.executable, str(HERE / "prepare.py"), app, str(out), "--refresh", str(refresh)],
        env=env,
        check=True,
        cwd=ROOT,
    )
    return json.loads((out / f"{app}.json").read_text())


def code_version() -> dict:
    """The commit measured, and the files outside bench/ that differed from it at the start (the
    servers import the working tree)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.rstrip()

    changed = [
        line[3:]
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith("bench/")
    ]
    # A copy outside git (git archive of a commit, with this bench/) names it in BENCH_COMMIT.
    commit = git("rev-parse", "--short", "HEAD") or os.environ.get("BENCH_COMMIT", "unknown")
    return {"commit": commit, "uncommitted_outside_bench": changed}


# --- servers --------------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, port: int, env: dict[str, str], workers: int, pin: str | None):
        self.name = name
        self.port = port
        _app, settings, wsgi = SERVERS[name]
        server_env = dict(env)
        if settings:
            server_env["DJANGO_SETTINGS_MODULE"] = settings
        server_env.update(
            BIND_HOST="127.0.0.1",
            PORT=str(port),
            WEB_CONCURRENCY=str(workers),
            LOG_LEVEL="warning",
            GUNICORN_MAX_REQUESTS="0",  # no worker restarts in the middle of a measurement
            # Login protection lets LOGIN_HASH_CONCURRENCY (default 1) password checks of one
            # client run at once and answers 429 to the rest (a flood must not take every
            # worker: bench/fairness measures that). Here one client's logins are the whole
            # load, so as many may hash at once as there are workers, like the peer's.
            LOGIN_HASH_CONCURRENCY=str(workers),
        )
        command = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"), wsgi]
        if pin is not None:
            command = ["taskset", "-c", pin, *command]
        self.log_file = open(RESULTS / f"server-{name}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=self.log_file
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        path = "/" if self.name == "bare" else "/api/hello"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited; see {self.log_file.name}")
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}{path}",
                headers={"Host": HOST, "X-Forwarded-Proto": "https"},
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f"{self.name} did not answer on port {self.port}")

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


# --- profile --------------------------------------------------------------------------------


PROFILE_IDLE = os.environ.get("BENCH_PROFILE_IDLE") == "1"  # also sample time spent waiting


def start_profile(server: Server, label: str, seconds: float) -> tuple[subprocess.Popen, Path]:
    """py-spy on the server's (first) worker for the measurement; raw collapsed stacks."""
    out = RESULTS / f"profile-{label}.txt"
    spy = subprocess.Popen(
        [
            str(VENV_BIN / "py-spy"),
            "record",
            "--pid",
            str(server.worker_pids()[0]),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "500",
            "--format",
            "raw",
            "--nonblocking",
            *(["--idle"] if PROFILE_IDLE else []),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return spy, out


def finish_profile(spy: subprocess.Popen, out: Path) -> None:
    from bench.http.profile_summary import summarize

    spy.wait(timeout=60)
    if out.exists():
        summary = summarize(out)
        out.with_suffix(".summary.txt").write_text(summary + "\n")
        log(summary)


# --- load -----------------------------------------------------------------------------------


def wrk(
    port: int,
    path: str,
    *,
    method: str,
    body: str,
    auth: str,
    tokens: str,
    offset: int,
    seconds: float,
    connections: int,
    pin: str | None,
) -> dict:
    env = dict(
        os.environ,
        BENCH_METHOD=method,
        BENCH_BODY=body,
        BENCH_AUTH=auth,
        BENCH_TOKENS=tokens,
        BENCH_OFFSET=str(offset),
        BENCH_HOST=HOST,
    )
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "wrk.lua"),
        f"http://127.0.0.1:{port}{path}",
    ]
    if pin is not None:
        command = ["taskset", "-c", pin, *command]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def run_config(
    workers: int,
    pinned: bool,
    env_by_app: dict[str, dict[str, str]],
    prepared: dict[str, dict],
    offsets: dict[str, int],
    args: argparse.Namespace,
) -> dict:
    server_pin = "0" if pinned else None
    load_pin = "1" if pinned else None
    names = sorted({name for scenario in args.scenarios for name in SCENARIOS[scenario][5]})
    servers = {}
    for port, name in enumerate(names, start=args.port):
        app = SERVERS[name][0]
        servers[name] = Server(name, port, env_by_app[app or "ours"], workers, server_pin)
    try:
        for server in servers.values():
            server.wait_ready()
        log(f"\n== {workers} worker(s){', pinned to CPU 0; wrk on CPU 1' if pinned else ''} ==")
        rounds: list[dict[str, dict[str, dict]]] = []
        for round_no in range(args.rounds):
            measured: dict[str, dict[str, dict]] = {}
            for scenario in args.scenarios:
                method, path, body, uses_refresh, auth, targets = SCENARIOS[scenario]
                order = list(targets) if round_no % 2 == 0 else list(reversed(targets))
                measured[scenario] = {}
                for name in order:
                    app = SERVERS[name][0] or "ours"
                    access = prepared[app]["access"]
                    slow = scenario == "login"  # the production hasher: ~0.1-0.5 s a request
                    common = dict(
                        method=method,
                        body=body.replace("ACCESS", access),
                        auth=auth_header(auth, prepared[app]),
                        tokens=prepared[app]["refresh_file"] if uses_refresh else "",
                        connections=2 if slow else args.connections,
                        pin=load_pin,
                    )
                    port = servers[name].port
                    target_path = "/" if name == "bare" else path
                    measure = max(args.duration, 10) if slow else args.duration
                    for seconds, keep in ((args.warmup, False), (measure, True)):
                        spy = None
                        if keep and args.profile and name in args.profile:
                            spy = start_profile(servers[name], f"{scenario}-{name}", seconds)
                        result = wrk(
                            port, target_path, offset=offsets[app], seconds=seconds, **common
                        )
                        if spy is not None:
                            finish_profile(*spy)
                        if uses_refresh:
                            # Requests cut off at the end may still have used a token.
                            offsets[app] += result["requests"] + args.connections
                        if keep:
                            measured[scenario][name] = result
                    r = measured[scenario][name]
                    log(
                        f"round {round_no + 1} {scenario:<10} {name:<10} {r['rps']:9.1f} req/s  "
                        f"p50 {r['p50_us'] / 1000:7.2f} ms  p99 {r['p99_us'] / 1000:7.2f} ms  "
                        f"non-2xx {r['non2xx']}"
                    )
            rounds.append(measured)
        return {"workers": workers, "pinned": pinned, "rounds": rounds}
    finally:
        for server in servers.values():
            server.stop()


# --- report ---------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def summarize(config: dict, hasher_seconds: float) -> dict:
    rounds = config["rounds"]
    scenarios = list(rounds[0])
    rows = {}
    for scenario in scenarios:
        for name in rounds[0][scenario]:
            runs = [r[scenario][name] for r in rounds]
            rows[f"{scenario}/{name}"] = {
                "rps": statistics.median(run["rps"] for run in runs),
                "p50_ms": statistics.median(run["p50_us"] for run in runs) / 1000,
                "p99_ms": statistics.median(run["p99_us"] for run in runs) / 1000,
                "non2xx": sum(run["non2xx"] for run in runs),
                "socket_errors": sum(run["socket_errors"] for run in runs),
                "requests": sum(run["requests"] for run in runs),
            }
    ratios = {}
    for scenario in scenarios:
        pair = SCENARIOS[scenario][5]
        ratios[f"{scenario}: ours / peer"] = statistics.median(
            _ratio(r[scenario][pair[0]]["rps"], r[scenario][pair[1]]["rps"]) for r in rounds
        )
    if "hello" in scenarios:
        ratios["hello: ours / bare WSGI"] = statistics.median(
            r["hello"]["ours"]["rps"] / r["hello"]["bare"]["rps"] for r in rounds
        )
        ratios["hello: peer / bare WSGI"] = statistics.median(
            r["hello"]["peer"]["rps"] / r["hello"]["bare"]["rps"] for r in rounds
        )
        if "user" in scenarios:
            ratios["user / hello (ours)"] = statistics.median(
                r["user"]["ours"]["rps"] / r["hello"]["ours"]["rps"] for r in rounds
            )
    if "user" in scenarios and "user_token" in scenarios:
        ratios["user_token / user (ours)"] = statistics.median(
            r["user_token"]["ours"]["rps"] / r["user"]["ours"]["rps"] for r in rounds
        )
        ratios["user_token / user (peer)"] = statistics.median(
            r["user_token"]["peer"]["rps"] / r["user"]["peer"]["rps"] for r in rounds
        )
    overhead = {}
    if "login" in scenarios and "login_fast" in scenarios:
        for side, fast in (("ours", "ours_fast"), ("peer", "peer_fast")):
            # Service time of one login = 1 / throughput (one sync worker serves one at a time).
            outside = statistics.median(1 / r["login_fast"][fast]["rps"] for r in rounds)
            whole = statistics.median(1 / r["login"][side]["rps"] for r in rounds)
            overhead[side] = {
                "login_ms": whole * 1000,
                "outside_hasher_ms": outside * 1000,
                "hasher_ms_in_process": hasher_seconds * 1000,
                "outside / hasher": outside / hasher_seconds,
            }
    return {"rows": rows, "ratios": ratios, "login_overhead": overhead}


def markdown(report: dict) -> str:
    algorithms = report.get("jwt_algorithm", {})
    lines = [
        f"JWT signatures: ours {algorithms.get('ours', '?')} (each client's own key pair), "
        f"the peer {algorithms.get('peer', '?')} (SimpleJWT's default, one shared secret).",
        "",
    ]
    code = report.get("code")
    if code:
        dirty = code["uncommitted_outside_bench"]
        lines[-1:-1] = [
            f"Code: commit {code['commit']}"
            + (f", with uncommitted changes to {', '.join(dirty)}" if dirty else "")
            + f"; {report['started']} to {report['finished']} ({report['seconds']} s).",
        ]
    for config in report["configs"]:
        summary = config["summary"]
        title = f"{config['workers']} worker(s)" + (
            ", pinned to CPU 0, wrk on CPU 1" if config["pinned"] else ", unpinned"
        )
        lines += [
            f"#### {title}",
            "",
            "| scenario | server | req/s | p50 ms | p99 ms | non-2xx | requests |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for key, row in summary["rows"].items():
            scenario, name = key.split("/")
            lines.append(
                f"| {scenario} | {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | "
                f"{row['p99_ms']:.2f} | {row['non2xx'] + row['socket_errors']} | "
                f"{row['requests']} |"
            )
        lines += ["", "| ratio (median of per-round ratios) | value | target |", "|---|---:|---|"]
        for key, value in summary["ratios"].items():
            scenario = key.split(":")[0]
            target = TARGETS.get(scenario) if key.endswith("ours / peer") else None
            target = RATIO_TARGETS.get(key, target)
            mark = (
                ""
                if target is None
                else (f"≥ {target} " + ("met" if value >= target else "**missed**"))
            )
            if key == "user_token: ours / peer":
                mark = "none in the issue"
            lines.append(f"| {key} | {value:.2f} | {mark} |")
        for side, o in summary["login_overhead"].items():
            lines.append(
                f"| login outside the hasher / hasher ({side}) | "
                f"{o['outside / hasher']:.3f} | "
                + (
                    "≤ 0.10 " + ("met" if o["outside / hasher"] <= 0.10 else "**missed**")
                    if side == "ours"
                    else ""
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = report["configs"]
    fig, axes = plt.subplots(1, len(configs), figsize=(7 * len(configs), 4.8), squeeze=False)
    for ax, config in zip(axes[0], configs, strict=True):
        rows = config["summary"]["rows"]
        scenarios = list(config["rounds"][0])
        x = range(len(scenarios))
        width = 0.38
        ours = [rows[f"{s}/{SCENARIOS[s][5][0]}"]["rps"] for s in scenarios]
        peer = [rows[f"{s}/{SCENARIOS[s][5][1]}"]["rps"] for s in scenarios]
        bars = ax.bar([i - width / 2 for i in x], ours, width, label="tenantauth", color="#2a7")
        ax.bar([i + width / 2 for i in x], peer, width, label="DRF + SimpleJWT", color="#999")
        ratios = config["summary"]["ratios"]
        for bar, scenario, o, p in zip(bars, scenarios, ours, peer, strict=True):
            # The table's figure: the median of per-round ratios, not a ratio of medians.
            ax.annotate(
                f"{ratios[f'{scenario}: ours / peer']:.1f}x",
                (bar.get_x() + width, max(o, p)),
                ha="center",
                va="bottom",
                fontsize=9,
            )
        if "hello/bare" in rows:
            ax.axhline(rows["hello/bare"]["rps"], color="#c44", ls="--", lw=1)
            ax.annotate(
                "bare WSGI hello",
                (len(scenarios) - 0.5, rows["hello/bare"]["rps"]),
                ha="right",
                va="bottom",
                fontsize=8,
                color="#c44",
            )
        ax.set_xticks(list(x), scenarios)
        ax.set_yscale("log")
        ax.set_ylabel("requests per second (log scale)")
        pin = "1 core" if config["pinned"] else "unpinned"
        ax.set_title(f"{config['workers']} gunicorn sync worker(s), {pin}")
        ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", default="1,2", help="worker counts; 1 is pinned")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--port", type=int, default=18100)
    parser.add_argument("--refresh-tokens", type=int, default=0, help="0: enough for the run")
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s, 1 worker")
    parser.add_argument(
        "--profile",
        default="",
        help="servers to profile with py-spy during each measurement, e.g. ours,peer",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument(
        "--name",
        default="latest",
        help="results/<name>.{json,md}; chart.png is drawn for the default name only",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.workers = 1, 2, "1"
    args.profile = [p.strip() for p in args.profile.split(",") if p.strip()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        sys.exit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    worker_counts = [int(w) for w in args.workers.split(",")]
    ensure_tools()
    RESULTS.mkdir(exist_ok=True)
    for old in RESULTS.glob("server-*.log"):
        old.unlink()

    tmp = Path(tempfile.mkdtemp(prefix="tenantauth-bench-http-"))
    started = time.monotonic()
    started_at, code = time.strftime("%Y-%m-%d %H:%M:%S"), code_version()
    try:
        urls, redis_url = start_databases(tmp)
        base_env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            **app_secrets(),
            DEBUG="false",
            REDIS_URL=redis_url,
            TENANTAUTH_DATA_DIR=str(tmp),
        )
        env_by_app = {app: dict(base_env, DATABASE_URL=url) for app, url in urls.items()}
        # ~3,000 refreshes/s at most, per measured or warm-up second, per worker config.
        needed = args.refresh_tokens or int(
            3000 * (args.duration + args.warmup) * args.rounds * len(worker_counts)
        )
        log(f"preparing databases and {needed} refresh tokens per app ...")
        prepared = {
            "ours": prepare("ours", env_by_app["ours"], tmp, needed),
            "peer": prepare(
                "peer",
                dict(env_by_app["peer"], DJANGO_SETTINGS_MODULE="bench.peers.drf_tenants.settings"),
                tmp,
                needed,
            ),
        }
        offsets = {"ours": 0, "peer": 0}
        configs = []
        for workers in worker_counts:
            config = run_config(workers, workers == 1, env_by_app, prepared, offsets, args)
            config["summary"] = summarize(config, prepared["ours"]["hasher_seconds"])
            configs.append(config)
        report = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "started": started_at,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": round(time.monotonic() - started),
            "settings": {
                k: getattr(args, k) for k in ("rounds", "duration", "warmup", "connections")
            },
            "hasher_ms": {app: p["hasher_seconds"] * 1000 for app, p in prepared.items()},
            "jwt_algorithm": {app: p["algorithm"] for app, p in prepared.items()},
            "code": code,
            "configs": configs,
        }
        (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=1))
        table = markdown(report)
        (RESULTS / f"{args.name}.md").write_text(table)
        if args.name == "latest":
            chart(report, HERE / "chart.png")
        log("\n" + table)
        log(f"written: {RESULTS / args.name}.{{json,md}}")
    finally:
        if args.keep:
            log(f"data kept in {tmp}")
        else:
            from core import embedded

            embedded.stop_redis(tmp)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
