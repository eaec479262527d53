"""Faults under load, measured: PostgreSQL restarted and Redis stopped while clients log in,
read the user, refresh and verify.

    .venv/bin/python bench/faults/run.py              # about 2 minutes
    .venv/bin/python bench/faults/run.py --quick      # the test suite's durations

(`make bench-faults` runs the first; BENCH_ARGS adds options.)

The same stack as tests/faults (tests/faults/stack.py): a PostgreSQL and a Redis of the run's
own, gunicorn the production way (deploy/start-web.sh: 2 sync workers, DEBUG off) and a Celery
worker, the client `acme` with an Argon2 admin; `--threads` clients each log in, then GET
/api/user/, refresh and verify in turn, on a new connection per request (a fresh login every
10 rounds). Records:

- PostgreSQL (`pg_ctl stop -m fast`, `--pg-outage` s, started again on the same socket): the
  answers by status before, during and after, the latency of the 503s, and per worker the time
  from PostgreSQL accepting connections to its first 200 to a login or refresh;
- Redis (stopped with SHUTDOWN for `--redis-outage` s, started again): the answers by status and
  the latency per route before, during and after, /readyz during the outage, and the time from
  Redis's return to /readyz 200 and to both workers' caches serving again;
- a purge task run by the Celery worker that lived through both.

Writes bench/faults/results/latest.json and latest.md (--name for another name).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.faults.stack import (
    SCHEMA,
    log,
    postgres_restart,
    redis_stop,
    running_stack,
    summary,
)

RESULTS = Path(__file__).resolve().parent / "results"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "—"


def markdown(report: dict) -> str:
    pg, rd = report["postgres"], report["redis"]
    lines = [
        f"Run {report['date']} at commit {report['commit']}, {report['threads']} client "
        f"threads, 2 gunicorn workers, load average before {report['load_before']}.",
        "",
        f"**PostgreSQL restart** (stopped in {pg['stop_s']} s, down {pg['outage_s']} s):",
        "",
        "| phase | answers |",
        "|---|---|",
        f"| {report['before_s']} s before | {_counts(pg['before'])} |",
        f"| outage | {_counts(pg['outage'])} |",
        f"| {report['after_s']} s after | {_counts(pg['after'])} |",
        "",
        "During the outage by route: "
        + "; ".join(f"{op}: {_counts(c)}" for op, c in pg["outage_by_op"].items())
        + f". The 503s took p50 {pg['outage_503_latency_ms'].get('p50')} ms, p95 "
        f"{pg['outage_503_latency_ms'].get('p95')} ms. From PostgreSQL accepting connections "
        "to each worker's first 200 to a login or refresh: "
        + ", ".join(f"{s} s" for s in pg["first_200_after_start_s"].values())
        + f"; workers before {pg['workers_before']}, after {pg['workers_after']}.",
        "",
        f"**Redis stopped** ({rd['outage_s']} s): answers before {_counts(rd['normal'])}; "
        f"during {_counts(rd['outage'])}; after {_counts(rd['after'])}. `/readyz` during: "
        f"{rd['readyz_during']['status']} `{rd['readyz_during']['body'].get('detail')}`; "
        f"200 again {rd['readyz_200_after_start_s']} s after Redis started; both workers' "
        f"caches serving again after {rd['caches_serve_after_start_s']} s.",
        "",
        "| route | p50 / p95 ms before | during | after |",
        "|---|---|---|---|",
    ]
    for op in rd["latency_normal_ms"]:
        cells = []
        for phase in ("latency_normal_ms", "latency_outage_ms", "latency_after_ms"):
            m = rd[phase].get(op) or {}
            cells.append(f"{m.get('p50')} / {m.get('p95')} (n={m.get('n', 0)})")
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += ["", f"Purge task after both faults: `{report['purge']}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--before", type=float, default=10, help="seconds of load before a fault")
    parser.add_argument("--pg-outage", type=float, default=10)
    parser.add_argument("--redis-outage", type=float, default=15)
    parser.add_argument("--after", type=float, default=15, help="seconds of load after a fault")
    parser.add_argument("--quick", action="store_true", help="the test suite's durations")
    parser.add_argument("--name", default="latest", help="results/<name>.json and .md")
    args = parser.parse_args()
    if args.quick:
        args.threads, args.before, args.pg_outage, args.redis_outage, args.after = 4, 2, 3, 4, 8
    import os
    import subprocess

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit,
        "threads": args.threads,
        "before_s": args.before,
        "after_s": args.after,
        "load_before": [round(x, 1) for x in os.getloadavg()],
    }
    with running_stack(workers=2) as stack:
        report["postgres"] = summary(
            postgres_restart(
                stack,
                threads=args.threads,
                warmup=2,
                before=args.before,
                outage=args.pg_outage,
                after=args.after,
            )
        )
        log(f"postgres: {report['postgres']}")
        time.sleep(2)
        access = str(stack.login()["access"])
        report["redis"] = summary(
            redis_stop(
                stack,
                threads=args.threads,
                warmup=2,
                before=args.before,
                outage=args.redis_outage,
                after=args.after,
                cache_probe=access,
            )
        )
        log(f"redis: {report['redis']}")
        started = time.monotonic()
        report["purge"] = stack.run_task("authapi.tasks.purge_schema", SCHEMA, timeout=120)
        report["purge_s"] = round(time.monotonic() - started, 2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = markdown(report)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
