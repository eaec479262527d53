"""hello and user on two checkouts side by side: what a change costs on the hot path.

    git worktree add /tmp/old <commit>
    .venv/bin/python bench/http/ab.py --old /tmp/old [--rounds 6]

Starts both (this checkout and `--old`) the production way on one database prepared by this
checkout (gunicorn with each checkout's deploy/gunicorn.conf.py, one worker each pinned to CPU 0,
wrk with 8 connections on CPU 1), and measures `hello` and `user` on each, back to back within a
round, the order alternating. Prints req/s and the median of the per-round ratios new / old.
The older code must run on this checkout's schema (hello and user read no table it lacks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NEW = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(NEW))

from bench.http.run import app_secrets, auth_header, ensure_tools, prepare, start_databases, wrk  # noqa: E402

SCENARIOS = {"hello": "/api/hello", "user": "/api/user/"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="a checkout of the older code")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--port", type=int, default=18500)
    args = parser.parse_args()
    ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="tenantauth-bench-ab-"))
    procs: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        urls, redis_url = start_databases(tmp)
        base = dict(
            os.environ,
            **app_secrets(),
            DEBUG="false",
            REDIS_URL=redis_url,
            DATABASE_URL=urls["ours"],
            TENANTAUTH_DATA_DIR=str(tmp),
            DJANGO_SETTINGS_MODULE="core.settings",
        )
        prepared = prepare("ours", dict(base, PYTHONPATH=str(NEW)), tmp, 1)
        for port, (name, root) in enumerate([("old", args.old.resolve()), ("new", NEW)], args.port):
            env = dict(
                base,
                PYTHONPATH=str(root),
                BIND_HOST="127.0.0.1",
                PORT=str(port),
                WEB_CONCURRENCY="1",
                LOG_LEVEL="warning",
                GUNICORN_MAX_REQUESTS="0",
            )
            gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-c"]
            command = ["taskset", "-c", "0", *gunicorn, str(root / "deploy/gunicorn.conf.py")]
            with (tmp / f"{name}.log").open("wb") as log:
                procs[name] = (
                    port,
                    subprocess.Popen(
                        [*command, "core.wsgi:application"],
                        cwd=root,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    ),
                )
        time.sleep(8)
        rps: dict[str, dict[str, list[float]]] = {n: {s: [] for s in SCENARIOS} for n in procs}
        for round_no in range(args.rounds):
            for scenario, path in SCENARIOS.items():
                for name in ["old", "new"] if round_no % 2 == 0 else ["new", "old"]:
                    common = dict(
                        method="GET",
                        body="",
                        auth=auth_header("access" if scenario == "user" else "", prepared),
                        tokens="",
                        offset=0,
                        connections=8,
                        pin="1",
                    )
                    wrk(procs[name][0], path, seconds=1, **common)
                    result = wrk(procs[name][0], path, seconds=args.duration, **common)
                    if result["non2xx"]:
                        sys.exit(f"{name}: {result['non2xx']} non-2xx answers on {scenario}")
                    rps[name][scenario].append(result["rps"])
                    print(f"round {round_no + 1} {scenario:<5} {name} {result['rps']:8.1f}")
        print("\n| scenario | old req/s | new req/s | new / old |\n|---|---:|---:|---:|")
        for scenario in SCENARIOS:
            old, new = rps["old"][scenario], rps["new"][scenario]
            ratio = statistics.median(n / o for n, o in zip(new, old, strict=True))
            print(
                f"| {scenario} | {statistics.median(old):.0f} | {statistics.median(new):.0f} "
                f"| {ratio:.3f} |"
            )
    finally:
        for _, proc in procs.values():
            proc.terminate()
        from core import embedded

        embedded.stop_redis(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
