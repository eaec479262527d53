"""The hot path one mechanism at a time: what each piece of core.hotpath buys.

    .venv/bin/python bench/http/ablate.py              # 3 rounds, 5 s per measurement
    .venv/bin/python bench/http/ablate.py --quick      # 1 round of 2 s

(`make bench-ablate`.) Starts tenantauth the production way (gunicorn, deploy/gunicorn.conf.py,
one worker pinned to CPU 0, wrk on CPU 1) once with every mechanism on and once per mechanism
with just that one off (`HOTPATH_OFF=<name>`), all on the same databases, and measures the
`hello`, `user`, `user_token` and `refresh` scenarios of bench/http/run.py on each, back to
back within a round (order alternating between rounds). A mechanism's gain is the median over
rounds of req/s (all on) / req/s (it off) - 1. Writes bench/http/results/ablation.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bench.http.run import (  # noqa: E402
    RESULTS,
    SCENARIOS,
    SERVERS,
    Server,
    app_secrets,
    auth_header,
    ensure_tools,
    log,
    prepare,
    start_databases,
    wrk,
)
from core.hotpath import MECHANISMS  # noqa: E402

# hello, user and user_token touch no database once warm (user_token is where `api_tokens`
# shows); refresh does (two INSERTs per request), which is where search_path can show at all.
MEASURED = ("hello", "user", "user_token", "refresh")
KEEP_THRESHOLD = 0.05  # a mechanism that buys less than this on every scenario goes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--port", type=int, default=18300)
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 2
    ensure_tools()
    RESULTS.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="tenantauth-bench-ablate-"))
    started = time.monotonic()
    variants = ["all on", *(f"{m} off" for m in MECHANISMS)]
    servers: dict[str, Server] = {}
    try:
        urls, redis_url = start_databases(tmp)
        env = {
            **dict(__import__("os").environ),
            "PYTHONPATH": str(HERE.parents[1]),
            **app_secrets(),
            "DEBUG": "false",
            "REDIS_URL": redis_url,
            "DATABASE_URL": urls["ours"],
            "TENANTAUTH_DATA_DIR": str(tmp),
        }
        log("preparing the database ...")
        # ~400 refreshes/s at most per variant and measured or warm-up second.
        needed = int(400 * (args.duration + args.warmup) * args.rounds * len(variants))
        prepared = prepare("ours", env, tmp, needed)
        offset = 0
        for port, variant in enumerate(variants, start=args.port):
            off = variant.removesuffix(" off") if variant != "all on" else ""
            SERVERS.setdefault(variant, SERVERS["ours"])
            servers[variant] = Server(variant, port, {**env, "HOTPATH_OFF": off}, 1, "0")
        for server in servers.values():
            server.wait_ready()
        rounds: list[dict[str, dict[str, float]]] = []
        for round_no in range(args.rounds):
            measured: dict[str, dict[str, float]] = {}
            for scenario in MEASURED:
                method, path, body, uses_refresh, auth, _ = SCENARIOS[scenario]
                order = variants if round_no % 2 == 0 else list(reversed(variants))
                measured[scenario] = {}
                for variant in order:
                    common = dict(
                        method=method,
                        body=body,
                        auth=auth_header(auth, prepared),
                        tokens=prepared["refresh_file"] if uses_refresh else "",
                        connections=args.connections,
                        pin="1",
                    )
                    port = servers[variant].port
                    for seconds in (args.warmup, args.duration):
                        result = wrk(port, path, seconds=seconds, offset=offset, **common)
                        if uses_refresh:  # each refresh token is used once
                            offset += result["requests"] + args.connections
                    if result["non2xx"]:
                        sys.exit(f"{variant}: {result['non2xx']} non-2xx answers on {scenario}")
                    measured[scenario][variant] = result["rps"]
                    log(f"round {round_no + 1} {scenario:<6} {variant:<18} {result['rps']:8.1f}")
            rounds.append(measured)
        report = summarize(rounds, variants)
        report.update(
            command=" ".join([Path(sys.executable).name, *sys.argv]),
            started=time.strftime("%Y-%m-%d %H:%M:%S"),
            seconds=round(time.monotonic() - started),
            settings={k: getattr(args, k) for k in ("rounds", "duration", "warmup", "connections")},
        )
        (RESULTS / "ablation.json").write_text(json.dumps(report, indent=1))
        table = markdown(report)
        (RESULTS / "ablation.md").write_text(table)
        log("\n" + table)
    finally:
        for server in servers.values():
            server.stop()
        from core import embedded

        embedded.stop_redis(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def summarize(rounds: list[dict[str, dict[str, float]]], variants: list[str]) -> dict:
    rps = {
        scenario: {v: statistics.median(r[scenario][v] for r in rounds) for v in variants}
        for scenario in MEASURED
    }
    gains = {
        mechanism: {
            scenario: statistics.median(
                r[scenario]["all on"] / r[scenario][f"{mechanism} off"] - 1 for r in rounds
            )
            for scenario in MEASURED
        }
        for mechanism in MECHANISMS
    }
    return {"rps": rps, "gains": gains, "rounds": rounds}


def markdown(report: dict) -> str:
    rps, gains = report["rps"], report["gains"]
    scenarios = list(rps)
    head = " | ".join(f"{s}: req/s with it off | gain" for s in scenarios)
    lines = [f"| mechanism | {head} | verdict |", "|---|" + "---:|---:|" * len(scenarios) + "---|"]
    cells = " | ".join(f"{rps[s]['all on']:.0f} | " for s in scenarios)
    lines.append(f"| (all on) | {cells} | |")
    for mechanism, gain in gains.items():
        keep = max(gain.values()) >= KEEP_THRESHOLD
        cells = " | ".join(f"{rps[s][f'{mechanism} off']:.0f} | {gain[s]:+.0%}" for s in scenarios)
        verdict = "keeps its place" if keep else "**under 5% everywhere: remove**"
        lines.append(f"| `{mechanism}` | {cells} | {verdict} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
