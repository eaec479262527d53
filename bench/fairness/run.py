"""Fairness between clients: one client's login flood against another client's requests.

    .venv/bin/python bench/fairness/run.py                        # 3 rounds (about 4 minutes)
    .venv/bin/python bench/fairness/run.py --compare-unbounded    # + LOGIN_HASH_CONCURRENCY=1000
    .venv/bin/python bench/fairness/run.py --quick                # 1 round of 4 s per phase
    .venv/bin/python bench/fairness/run.py --profile              # + py-spy on the workers

(`make bench-fairness` runs the first; BENCH_ARGS adds options.)

A fresh database on the embedded PostgreSQL (or on DATABASE_URL's server) with two clients,
flood.localhost and calm.localhost, each with its first admin hashed by the production hasher
(Argon2id). tenantauth is started the production way — gunicorn with deploy/gunicorn.conf.py,
2 sync workers (WEB_CONCURRENCY=2), unpinned, DEBUG off — with TRUSTED_PROXIES=127.0.0.1/32, so
the flood can present a new client address per request in X-Forwarded-For, and login protection
at its defaults (LOGIN_HASH_CONCURRENCY=1): the server "bounded".

The calm client's admin reads GET /api/user/ with a long-lived access token at a fixed rate, 50
requests a second, open loop (calm.py). Each round measures it without a flood ("quiet") and
while wrk sends bad-credential logins to the flood client over 8 connections as fast as they
are answered ("logins"; flood.lua: a new address per request, half of them a real account).
Controls, unless --no-control: the same flood of GET /api/hello ("hello", the cheapest request
there is), and the login flood against a server where LOGIN_HASH_CONCURRENCY=0 ("refuse-all":
every login a 429, nothing hashed). --compare-unbounded adds a server with
LOGIN_HASH_CONCURRENCY=1000 ("unbounded"). Each server has its own Redis database, so none
shares a counter with another. Every phase of every server runs in every round, the order
reversed between rounds, and a ratio (p50 under a flood / p50 quiet) is taken within a round.
Writes bench/fairness/results/latest.json and latest.md (--name for another name).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.fairness import profile, report
from bench.fairness.stack import (
    CLIENTS,
    HERE,
    PASSWORD,
    RESULTS,
    Server,
    base_environment,
    code_version,
    ensure_tools,
    log,
    prepare,
)

# --- load -----------------------------------------------------------------------------------


def finish(process: subprocess.Popen, what: str) -> dict:
    """The JSON line a load generator printed last."""
    out, err = process.communicate(timeout=180)
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if process.returncode != 0 or line is None:
        sys.exit(f"{what} failed ({process.returncode}):\n{out}\n{err}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    answered = data.get("answered", data["requests"])
    data["rps"] = answered / (data["duration_us"] / 1e6)
    return data


class Load:
    """The calm client (calm.py, a fixed rate) and the flood (wrk with flood.lua)."""

    def __init__(self, args: argparse.Namespace, access: str):
        self.args = args
        self.access = access
        self.flood_runs = 0

    def calm(self, server: Server, warmup: float, duration: float) -> subprocess.Popen:
        command = [sys.executable, str(HERE / "calm.py"), "--port", str(server.port)]
        command += ["--host", CLIENTS["calm"], "--auth", f"Bearer {self.access}"]
        command += ["--rate", str(self.args.calm_rate), "--warmup", str(warmup)]
        command += ["--duration", str(duration)]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def flood(self, server: Server, kind: str, seconds: int) -> subprocess.Popen:
        # Each flood run its own block of 2^18 addresses, so no address comes back in a run.
        env = {
            "BENCH_HOST": CLIENTS["flood"],
            "BENCH_USER": "flood-admin",
            "BENCH_IP_BASE": str(self.flood_runs * 2**18),
            "BENCH_KIND": kind,
        }
        self.flood_runs += 1
        command = ["wrk", "-t1", f"-c{self.args.flood_connections}", f"-d{seconds}s"]
        command += ["--timeout", "10s", "-s", str(HERE / "flood.lua")]
        return subprocess.Popen(
            [*command, f"http://127.0.0.1:{server.port}/api/auth/token/"],
            env=dict(os.environ, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


# Phase -> what floods the flood client meanwhile (None: nothing).
PHASES = {"quiet": None, "logins": "login", "hello": "hello"}


def phase(load: Load, server: Server, name: str, spy: bool) -> dict:
    """The calm client for warm-up + duration; the flood, if any, from the same moment until a
    second after the calm client's last request is due."""
    args = load.args
    kind = PHASES[name]
    flood = load.flood(server, kind, args.warmup + args.duration + 1) if kind else None
    calm = load.calm(server, args.warmup, args.duration)
    spies = []
    if spy:
        time.sleep(args.warmup)
        spies = profile.start(server.worker_pids(), args.duration, RESULTS, server.name)
    result = {"calm": finish(calm, "the calm client")}
    if flood is not None:
        result["flood"] = finish(flood, "wrk (flood)")
    if spies:
        result["profile"] = profile.finish(spies)
    result["settle_s"] = round(server.settle(), 2)
    return result


def run_rounds(servers: dict[str, Server], load: Load, args: argparse.Namespace) -> list[dict]:
    steps = [
        (name, phase_name)
        for name in servers
        for phase_name in PHASES
        if phase_name != "hello" or (name == "bounded" and args.control)
    ]
    rounds = []
    for round_no in range(args.rounds):
        order = steps if round_no % 2 == 0 else list(reversed(steps))
        measured: dict[str, dict] = {name: {} for name in servers}
        for name, phase_name in order:
            spy = args.profile and round_no == 0 and phase_name == "logins"
            result = phase(load, servers[name], phase_name, spy)
            measured[name][phase_name] = result
            log(f"round {round_no + 1} {name:<9} {phase_name:<6} " + report.phase_line(result))
        rounds.append(measured)
    return rounds


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before a measurement")
    parser.add_argument("--calm-rate", type=float, default=50, help="calm requests per second")
    parser.add_argument("--flood-connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--compare-unbounded", action="store_true")
    parser.add_argument(
        "--no-control",
        dest="control",
        action="store_false",
        help="skip the controls: a flood of GET /api/hello instead of logins, and the login "
        "flood on a server that refuses every login (LOGIN_HASH_CONCURRENCY=0)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy on both workers, round 1")
    parser.add_argument("--port", type=int, default=18300)
    parser.add_argument("--quick", action="store_true", help="1 round of 4 s")
    parser.add_argument("--name", default="latest", help="results/<name>.json and .md")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 4, 1
    ensure_tools()
    RESULTS.mkdir(exist_ok=True)
    for old in RESULTS.glob("server-*.log"):
        old.unlink()

    tmp = Path(tempfile.mkdtemp(prefix="tenantauth-bench-fairness-"))
    if not args.keep:
        # Registered before the embedded servers' own exit handlers, so it runs after them
        # (stopping Redis at exit makes its folder again).
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    started, started_at, code = time.monotonic(), time.strftime("%Y-%m-%d %H:%M:%S"), code_version()
    load_before = os.getloadavg()
    servers: dict[str, Server] = {}
    try:
        env = base_environment(tmp)
        log("preparing the database (two clients, Argon2 admins) ...")
        hasher_ms = prepare(env)
        names = ["bounded"] + ["unbounded"] * args.compare_unbounded + ["refuse-all"] * args.control
        for port, name in enumerate(names, start=args.port):
            servers[name] = Server(name, port, env, args.workers)
        for server in servers.values():
            server.wait_ready()
        login = {"username": "calm-admin", "password": PASSWORD}
        access = servers["bounded"].request("/api/auth/token/", login)["access"]
        load = Load(args, access)
        for server in servers.values():  # every worker's caches warm before the first round
            finish(load.calm(server, 0, 2), "the calm client")
        log(f"one Argon2 check: {hasher_ms:.0f} ms; load average {load_before[0]:.2f}")
        rounds = run_rounds(servers, load, args)
        result = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "started": started_at,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": round(time.monotonic() - started),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "code": code,
            "hasher_ms": round(hasher_ms, 1),
            "settings": {
                k: getattr(args, k)
                for k in (
                    "rounds",
                    "duration",
                    "warmup",
                    "calm_rate",
                    "control",
                    "flood_connections",
                )
            }
            | {"workers": args.workers},
            "rounds": rounds,
        }
        result["summary"] = report.summarize(rounds, args.flood_connections)
        for name, server in servers.items():
            result["summary"][name]["protection_unavailable"] = server.protection_unavailable()
        out = RESULTS / args.name
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        table = report.markdown(result)
        out.with_suffix(".md").write_text(table)
        log("\n" + table)
        log(f"written: {out}.json, {out}.md")
    finally:
        for server in servers.values():
            server.stop()
        if args.keep:
            log(f"data kept in {tmp}")
        else:
            from core import embedded

            embedded.stop_redis(tmp)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
