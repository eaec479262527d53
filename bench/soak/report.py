"""The soak's figures: windows merged over the drivers, the verdicts against the targets, the
Markdown report and the chart."""

from __future__ import annotations

import statistics
from pathlib import Path

OPERATIONS = ("login", "user", "verify", "refresh", "logout")
RSS_GROWTH_TARGET = 0.10
# Roles whose RSS is judged; "postgres backends" (a sum over connections that come and go with
# DB_CONN_MAX_AGE) and the drivers are shown, not judged.
NOT_JUDGED = ("postgres backends", "postgres backends count", "postgres other")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def merge(index: int, parts: list[dict], window: float) -> dict:
    """One window, summed over the drivers' lines for it (raw latencies kept under `_lat`)."""
    n = dict.fromkeys(OPERATIONS, 0)
    errors: dict[str, int] = {}
    lat: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    lag: list[float] = []
    skipped = 0
    for part in parts:
        for op in OPERATIONS:
            n[op] += part["n"][op]
            lat[op] += part["lat"][op]
        for key, count in part["errors"].items():
            errors[key] = errors.get(key, 0) + count
        lag += part["lag"]
        skipped += part["skipped"]
    every = [x for op in OPERATIONS for x in lat[op]]
    return {
        "window": index,
        "t": index * window,
        "requests": sum(n.values()),
        "rps": round(sum(n.values()) / window, 1),
        "n": n,
        "errors": errors,
        "error_count": sum(errors.values()),
        "skipped": skipped,
        "p50_ms": pct(every, 0.50),
        "p99_ms": pct(every, 0.99),
        "p99_ms_by_op": {op: pct(lat[op], 0.99) for op in OPERATIONS if lat[op]},
        "lag_p99_ms": pct(lag, 0.99),
        "_lat": lat,
        "_lag": lag,
    }


def strip(windows: list[dict]) -> list[dict]:
    return [{k: v for k, v in w.items() if not k.startswith("_")} for w in windows]


def totals(windows: list[dict]) -> dict:
    lat: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    lag: list[float] = []
    errors: dict[str, int] = {}
    for w in windows:
        for op in OPERATIONS:
            lat[op] += w["_lat"][op]
        lag += w["_lag"]
        for key, count in w["errors"].items():
            errors[key] = errors.get(key, 0) + count
    every = [x for op in OPERATIONS for x in lat[op]]
    requests = len(every)
    return {
        "requests": requests,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "skipped": sum(w["skipped"] for w in windows),
        "share": {op: round(len(lat[op]) / requests, 4) if requests else 0 for op in OPERATIONS},
        "by_op": {
            op: {
                "requests": len(lat[op]),
                "p50_ms": pct(lat[op], 0.5),
                "p99_ms": pct(lat[op], 0.99),
                "max_ms": max(lat[op]) if lat[op] else None,
            }
            for op in OPERATIONS
        },
        "p50_ms": pct(every, 0.5),
        "p99_ms": pct(every, 0.99),
        "lag_p99_ms": pct(lag, 0.99),
        "lag_max_ms": max(lag) if lag else None,
    }


def window_line(w: dict) -> str:
    errors = f" errors {w['errors']}" if w["error_count"] else ""
    return (
        f"t={w['t']:>5.0f}s {w['rps']:>7.1f} req/s  p50 {w['p50_ms'] or 0:>7.1f} ms  "
        f"p99 {w['p99_ms'] or 0:>7.1f} ms  send lag p99 {w['lag_p99_ms'] or 0:>6.1f} ms  "
        f"logins {w['n']['login']}{errors}"
    )


# --- RSS ------------------------------------------------------------------------------------


def rss_growth(result: dict) -> dict[str, dict]:
    """Per process: the median RSS over the 30 s after warm-up (the base) and over the soak's
    last 30 s; growth = last / base - 1. Also the peak, and whether its pid changed."""
    soak = result["phases"]["soak"]
    base_from = soak["from"] + result["settings"]["warmup_s"]
    base_to, last_from = base_from + 30, soak["to"] - 30
    series: dict[str, list[tuple[float, float]]] = {}
    for sample in result["rss"]["samples"]:
        for role, value in sample["rss"].items():
            series.setdefault(role, []).append((sample["t"], value))
    out = {}
    for role, points in series.items():
        if role == "postgres backends count" or role.startswith("driver"):
            continue
        base = [v for t, v in points if base_from <= t <= base_to]
        last = [v for t, v in points if last_from <= t <= soak["to"]]
        start = [v for t, v in points if t <= soak["from"] + 5]
        if not base or not last:
            continue
        b, end = statistics.median(base), statistics.median(last)
        out[role] = {
            "start_mb": round(statistics.median(start), 1) if start else None,
            "base_mb": round(b, 1),
            "end_mb": round(end, 1),
            "peak_mb": round(max(v for t, v in points if t <= soak["to"]), 1),
            "growth": round(end / b - 1, 4),
            "judged": role not in NOT_JUDGED,
            "pids": len(result["rss"]["pids"].get(role, [])),
        }
    return out


def cpu_use(result: dict) -> dict[str, float]:
    """Cores used during the soak, per process (PostgreSQL: all its processes) and by the whole
    machine; "others" is what the machine ran beside this benchmark (other users of the VM)."""
    soak = result["phases"]["soak"]
    samples = [x for x in result["rss"]["samples"] if "cpu" in x]
    inside = [x for x in samples if soak["from"] <= x["t"] <= soak["to"]]
    if len(inside) < 2:
        return {}
    first, last = inside[0], inside[-1]
    seconds = last["t"] - first["t"]
    out = {}
    for role, value in last["cpu"].items():
        if role in first["cpu"]:
            name = "postgres (all processes)" if role == "postgres postmaster" else role
            out[name] = round((value - first["cpu"][role]) / seconds, 3)
    ours = sum(v for k, v in out.items() if k != "machine busy")
    out["others (not this benchmark)"] = round(out.get("machine busy", 0.0) - ours, 3)
    return out


def verdicts(result: dict) -> dict:
    totals_ = result["soak"]["totals"]
    growth = rss_growth(result)
    judged = {role: g for role, g in growth.items() if g["judged"]}
    worst = max(judged.items(), key=lambda item: item[1]["growth"], default=(None, None))
    final = result["final_purge"]["totals"]
    expired_left = final["outstanding_expired"] + final["sessions_dead"] + final["api_keys_expired"]
    restarted = [role for role, g in judged.items() if g["pids"] > 1]
    return {
        "errors": {"value": totals_["errors"], "target": 0, "met": totals_["errors"] == 0},
        "rss_growth": {
            "worst_process": worst[0],
            "worst_growth": worst[1]["growth"] if worst[1] else None,
            "target": f"< {RSS_GROWTH_TARGET:.0%} per process",
            "met": all(g["growth"] < RSS_GROWTH_TARGET for g in judged.values()) and not restarted,
            "restarted": restarted,
            "by_process": growth,
        },
        "expired_rows_left": {"value": expired_left, "target": 0, "met": expired_left == 0},
        "all_processes_alive": all(result["processes_alive_at_end"].values()),
        "cpu_cores_during_soak": cpu_use(result),
    }


# --- chart ----------------------------------------------------------------------------------


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = result["soak"]["windows"]
    soak = result["phases"]["soak"]
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(4, 1, figsize=(10, 13), sharex=True)
    t = [w["t"] + result["settings"]["window_s"] / 2 for w in windows]
    ax1.plot(t, [w["p99_ms"] for w in windows], label="p99, all requests")
    ax1.plot(t, [w["p50_ms"] for w in windows], label="p50, all requests")
    by_op = {op: [w["p99_ms_by_op"].get(op) for w in windows] for op in ("user", "refresh")}
    for op, values in by_op.items():
        ax1.plot(t, values, linestyle=":", label=f"p99, {op}")
    ax1.set_ylabel("latency, ms (per 10 s)")
    ax1.set_yscale("log")
    ax1.legend(fontsize=8)
    ax1.set_title(
        f"soak: {result['rate']} req/s open loop ({result['settings']['load']:.0%} of "
        f"{result['capacity'].get('rps')} req/s measured), {result['settings']['minutes']:g} min"
    )
    ax2.plot(t, [w["rps"] for w in windows], label="answered req/s")
    ax2.plot(t, [w["error_count"] for w in windows], label="errors per window")
    ax2.plot(t, [w["skipped"] / result["settings"]["window_s"] for w in windows], label="skipped/s")
    ax2.axhline(result["rate"], color="grey", linestyle="--", linewidth=0.8, label="offered")
    ax2.legend(fontsize=8)
    ax2.set_ylabel("requests")
    series: dict[str, list[tuple[float, float]]] = {}
    for sample in result["rss"]["samples"]:
        for role, value in sample["rss"].items():
            series.setdefault(role, []).append((sample["t"] - soak["from"], value))
    app_top = 0.0
    for role, points in sorted(series.items()):
        if role == "postgres backends count" or role.startswith("driver"):
            continue
        xs, ys = zip(*points, strict=True)
        ax = ax4 if role.startswith("postgres") else ax3
        ax.plot(xs, ys, label=role, linewidth=1)
        if ax is ax3:
            app_top = max(app_top, statistics.median(ys))
    for ax in (ax3, ax4):
        ax.axvline(result["settings"]["warmup_s"], color="grey", linestyle="--", linewidth=0.8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_ylabel("RSS, MB")
        ax.legend(fontsize=7, ncol=3, loc="lower right")
    ax3.set_ylim(0, app_top * 1.35)
    ax3.set_title(
        "app processes (a worker's spikes of ~+100 MB, cut off here, are Argon2's buffer "
        "during a login)",
        fontsize=9,
    )
    ax4.set_title("PostgreSQL", fontsize=9)
    ax4.set_xlabel("seconds since the soak started (before 0: log-ins and capacity run)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --- Markdown -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(result: dict, chart_name: str) -> str:
    s, v, tot = result["settings"], result["verdicts"], result["soak"]["totals"]
    cap = result["capacity"]
    la = result["load_average"]
    changed = ", ".join(result["code"]["uncommitted_outside_bench"])
    lines = [
        f"# Soak {result['started']} to {result['finished']}",
        "",
        f"`{result['command']}` at {result['code']['commit']}"
        + (f" (uncommitted outside bench/: {changed})" if changed else "")
        + f"; {result['seconds']} s in all, {result['cpus']} CPUs.",
        f"Load average (1/5/15 min): before {la['before']}, at the soak's start "
        f"{la['soak_start']}, at its end {la['soak_end']}.",
        "",
        f"{s['clients']} clients, {s['sessions']} sessions; gunicorn {s['gunicorn_workers']} "
        f"workers, Celery worker {s['celery_concurrency']} processes + beat (purge every "
        f"{s['purge_interval_s']} s); lifetimes access {s['access_lifetime_s']} s, refresh "
        f"{s['refresh_lifetime_s']} s, session {s['session_lifetime_s']} s; one "
        f"{result['setup']['hasher']} check {result['setup']['hasher_ms']} ms."
        + (f" Extra server environment: {s['server_env']}." if s.get("server_env") else ""),
        "",
        "## Verdicts",
        "",
        "| target | value | verdict |",
        "|---|---|---|",
        f"| error answers: 0 | {v['errors']['value']} of {tot['requests']} | "
        + ("met" if v["errors"]["met"] else "**missed**")
        + " |",
        f"| RSS growth after warm-up < 10 % per process | worst "
        f"{v['rss_growth']['worst_growth']:+.1%} ({v['rss_growth']['worst_process']})"
        + (f"; restarted: {v['rss_growth']['restarted']}" if v["rss_growth"]["restarted"] else "")
        + " | "
        + ("met" if v["rss_growth"]["met"] else "**missed**")
        + " |",
        f"| expired rows left after the purge: 0 | {v['expired_rows_left']['value']} | "
        + ("met" if v["expired_rows_left"]["met"] else "**missed**")
        + " |",
        "",
        "## Load",
        "",
    ]
    if cap.get("rps") is not None:
        lines.append(
            f"Capacity of the mix (closed loop, {cap['concurrency']} in flight, {cap['seconds']} s "
            f"after warm-up): **{cap['rps']} req/s** (p50 {_ms(cap['totals']['p50_ms'])} ms, p99 "
            f"{_ms(cap['totals']['p99_ms'])} ms, errors {cap['errors']}). Soak at "
            f"**{result['rate']} req/s** ({s['load']:.0%}), open loop, Poisson arrivals."
        )
    else:
        lines.append(f"Soak at {result['rate']} req/s (given), open loop, Poisson arrivals.")
    driver_share = result["soak"]["driver_cpu_seconds"] / (
        result["phases"]["soak"]["to"] - result["phases"]["soak"]["from"]
    )
    lines += [
        "",
        f"Soak: {tot['requests']} requests, errors {tot['errors']}"
        + (f" ({tot['error_kinds']})" if tot["errors"] else "")
        + f", p50 {_ms(tot['p50_ms'])} ms, p99 {_ms(tot['p99_ms'])} ms (latency from the moment "
        f"a request was due). The driver sent requests late by p99 {_ms(tot['lag_p99_ms'])} ms "
        f"(max {_ms(tot['lag_max_ms'])} ms), skipped {tot['skipped']} for want of an idle "
        f"session, and used {driver_share:.2f} CPU cores.",
        "",
        "| operation | share | requests | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for op, figures in tot["by_op"].items():
        lines.append(
            f"| {op} | {tot['share'][op]:.2%} | {figures['requests']} | "
            f"{_ms(figures['p50_ms'])} | {_ms(figures['p99_ms'])} | {_ms(figures['max_ms'])} |"
        )
    lines += [
        "",
        "Per 10 s window (t: seconds since the soak started; a window is where an answer arrived):",
        "",
        "| t s | req/s | errors | p50 ms | p99 ms | logins | refreshes | send lag p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in result["soak"]["windows"]:
        lines.append(
            f"| {w['t']:.0f} | {w['rps']} | {w['error_count']} | {_ms(w['p50_ms'])} | "
            f"{_ms(w['p99_ms'])} | {w['n']['login']} | {w['n']['refresh']} | "
            f"{_ms(w['lag_p99_ms'])} |"
        )
    lines += [
        "",
        "## RSS",
        "",
        f"Base: median over the 30 s after {s['warmup_s']:g} s of soak; end: median over the "
        "soak's last 30 s.",
        "",
        "| process | at soak start MB | base MB | end MB | peak MB | growth | judged |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for role, g in v["rss_growth"]["by_process"].items():
        judged = ("yes" if g["growth"] < RSS_GROWTH_TARGET else "**over**") if g["judged"] else "no"
        if g["pids"] > 1:
            judged += f" (restarted: {g['pids']} pids)"
        lines.append(
            f"| {role} | {_ms(g['start_mb'])} | {g['base_mb']} | {g['end_mb']} | {g['peak_mb']} | "
            f"{g['growth']:+.1%} | {judged} |"
        )
    cores = v.get("cpu_cores_during_soak") or {}
    if cores:
        lines += [
            "",
            "## CPU during the soak",
            "",
            f"Cores used, of {result['cpus']} (drivers included; a driver's pid changes per "
            "phase, so only the soak's drivers count):",
            "",
            "| process | cores |",
            "|---|---:|",
        ]
        lines += [f"| {role} | {value:.2f} |" for role, value in cores.items()]
    left, final, logs = result["rows_left_by_beat"], result["final_purge"], result["logs"]
    lines += [
        "",
        "## Rows",
        "",
        f"Beat's purges during the run: {logs['purge_dispatches']} dispatches, "
        f"{logs['purged']['tasks']} schema purges, deleting {logs['purged']['outstanding']} "
        f"outstanding tokens, {logs['purged']['blacklisted']} blacklist rows, "
        f"{logs['purged']['sessions']} sessions, {logs['purged']['api_tokens']} API keys.",
        "",
        f"| rows in {left['schemas']} schemas | when the load stopped | after the final purge |",
        "|---|---:|---:|",
    ]
    for kind in left["totals"]:
        lines.append(f"| {kind} | {left['totals'][kind]} | {final['totals'][kind]} |")
    lines += [
        "",
        f"The final purge deleted {final['deleted']} in {final['seconds']} s; schemas still "
        f"holding an expired row after it: {final['dirty'] or 'none'}.",
        "",
        f"Redis at the end: {result.get('redis_at_end')}.",
        "",
        f"Logs: {', '.join(f'{k} {val}' for k, val in logs.items() if k != 'purged')}. "
        f"Processes alive at the end: {result['processes_alive_at_end']}.",
        "",
        f"![p99, requests and RSS over time]({chart_name})",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Render the Markdown and the chart again from a results JSON:
    python bench/soak/report.py bench/soak/results/latest.json"""
    import json
    import sys

    path = Path(sys.argv[1])
    result = json.loads(path.read_text())
    result["verdicts"] = verdicts(result)
    path.write_text(json.dumps(result, indent=1) + "\n")
    chart(result, path.with_suffix(".png"))
    path.with_suffix(".md").write_text(markdown(result, path.with_suffix(".png").name))


if __name__ == "__main__":
    main()
