"""Figures of bench/fairness/run.py: per-round ratios, medians, the Markdown tables."""

from __future__ import annotations

import statistics

TARGET_P50_RATIO = 3.0  # the calm client's p50 under the login flood / without it, at most
LATENCIES = ("p50", "p90", "p99", "max")
PHASE_TITLES = {
    "quiet": "no flood",
    "logins": "login flood",
    "hello": "control: GET /api/hello flood",
}


def _ms(run: dict, key: str) -> float:
    return run[f"{key}_us"] / 1000


def _errors(run: dict) -> int:
    return run["non2xx"] + run["socket_errors"]


def _flood_other(f: dict) -> int:
    return f["s429_other"] + f["other"] + f["socket_errors"]


def phase_line(result: dict) -> str:
    calm = result["calm"]
    line = (
        f"calm {calm['rps']:5.1f} req/s  "
        + "  ".join(f"{k} {_ms(calm, k):7.1f} ms" for k in LATENCIES)
        + f"  errors {_errors(calm)}"
    )
    if "flood" in result:
        f = result["flood"]
        line += (
            f"  | flood {f['rps']:6.1f} req/s  2xx {f['s2xx']}  401 {f['s401']}  "
            f"429 {f['s429']}  other {_flood_other(f)}"
        )
    return line


def _ratios(rounds: list[dict], name: str, phase: str, key: str) -> list[float]:
    return [_ms(r[name][phase]["calm"], key) / _ms(r[name]["quiet"]["calm"], key) for r in rounds]


def summarize(rounds: list[dict], flood_connections: int) -> dict:
    summary = {}
    for name in rounds[0]:
        phases = list(rounds[0][name])
        calm = {}
        for phase in phases:
            runs = [r[name][phase]["calm"] for r in rounds]
            calm[phase] = {
                **{
                    f"{k}_ms": round(statistics.median(_ms(r, k) for r in runs), 2)
                    for k in LATENCIES
                },
                "rps": round(statistics.median(r["rps"] for r in runs), 1),
                "client_late_p50_ms": round(
                    statistics.median(r["client_late_p50_us"] for r in runs) / 1000, 2
                ),
                "client_late_max_ms": round(max(r["client_late_max_us"] for r in runs) / 1000, 2),
                "requests": sum(r["requests"] for r in runs),
                "errors": sum(_errors(r) for r in runs),
            }
        floods = {}
        for phase in phases:
            if phase == "quiet":
                continue
            runs = [r[name][phase]["flood"] for r in rounds]
            floods[phase] = {
                "rps": round(statistics.median(f["rps"] for f in runs), 1),
                "requests": sum(f["requests"] for f in runs),
                "2xx": sum(f["s2xx"] for f in runs),
                "401": sum(f["s401"] for f in runs),
                "429 (Retry-After: 1)": sum(f["s429"] for f in runs),
                "429 (other)": sum(f["s429_other"] for f in runs),
                "other": sum(f["other"] for f in runs),
                "socket errors": sum(f["socket_errors"] for f in runs),
                "401/s": round(
                    statistics.median(f["s401"] / (f["duration_us"] / 1e6) for f in runs), 1
                ),
                # Little's law: how long a flood request spends queued and served, on average.
                "time_in_server_ms": round(
                    statistics.median(1000 * flood_connections / f["rps"] for f in runs), 1
                ),
            }
        ratios = {
            phase: {
                key: [round(x, 2) for x in _ratios(rounds, name, phase, key)]
                for key in ("p50", "p99")
            }
            for phase in floods
        }
        p50_ratio = statistics.median(ratios["logins"]["p50"])
        summary[name] = {
            "calm": calm,
            "flood": floods,
            "ratio_rounds": ratios,
            "p50_ratio": round(p50_ratio, 2),
            "p50_target_met": p50_ratio <= TARGET_P50_RATIO,
            "calm_errors": sum(c["errors"] for c in calm.values()),
        }
        if "hello" in ratios:
            summary[name]["control_p50_ratio"] = round(statistics.median(ratios["hello"]["p50"]), 2)
    return summary


def _round_table(rounds: list[dict], name: str) -> list[str]:
    lines = [
        "| round | phase | calm p50 ms | p90 ms | p99 ms | max ms | calm req/s | calm errors "
        "| flood req/s | flood 2xx | flood 401 | flood 429 | flood other |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, measured in enumerate(rounds, start=1):
        for phase, result in measured[name].items():
            calm = result["calm"]
            cells = [str(n), phase, *(f"{_ms(calm, k):.1f}" for k in LATENCIES)]
            cells += [f"{calm['rps']:.0f}", str(_errors(calm))]
            f = result.get("flood")
            if f:
                cells += [f"{f['rps']:.0f}", str(f["s2xx"]), str(f["s401"]), str(f["s429"])]
                cells.append(str(_flood_other(f)))
            else:
                cells += ["", "", "", "", ""]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _profile_lines(rounds: list[dict], name: str) -> list[str]:
    profiles = rounds[0][name]["logins"].get("profile")
    if not profiles:
        return []
    lines = ["", f"py-spy on the {name} server's workers during round 1's login flood:", ""]
    for p in profiles:
        shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in p["categories"].items())
        lines.append(f"- {p['file']} (wall-clock shares): {shares}")
    return lines


def _rounds_text(values: list[float], digits: int = 2) -> str:
    return " / ".join(f"{x:.{digits}f}" for x in values)


SERVER_TITLES = {
    "bounded": "LOGIN_HASH_CONCURRENCY=1 (the default), as deployed",
    "unbounded": "LOGIN_HASH_CONCURRENCY=1000: no bound in effect",
    "refuse-all": "LOGIN_HASH_CONCURRENCY=0 (diagnostic): every login a 429, nothing hashed",
}


def _server_section(result: dict, name: str, summary: dict) -> list[str]:
    # The targets are the deployed configuration's; the other servers only compare.
    targeted = name == "bounded"
    mark = "met" if summary["p50_target_met"] else "**missed**"
    errors = "met" if summary["calm_errors"] == 0 else "**missed**"
    unavailable = summary.get("protection_unavailable", 0)
    lines = [
        f"## {name}: {SERVER_TITLES[name]}",
        "",
        "| calm client, median of rounds | p50 ms | p90 ms | p99 ms | max ms | answered/s "
        "| errors, all rounds | client's own lag p50 / max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase, c in summary["calm"].items():
        lines.append(
            f"| {PHASE_TITLES[phase]} | {c['p50_ms']:.2f} | {c['p90_ms']:.2f} | "
            f"{c['p99_ms']:.2f} | {c['max_ms']:.2f} | {c['rps']:.0f} | {c['errors']} | "
            f"{c['client_late_p50_ms']:.2f} / {c['client_late_max_ms']:.1f} |"
        )
    logins = summary["ratio_rounds"]["logins"]
    lines += [
        "",
        f"- calm p50 under the login flood / without it: **{summary['p50_ratio']:.2f}** "
        f"(median of rounds {_rounds_text(logins['p50'])})"
        + (f"; target ≤ {TARGET_P50_RATIO:.0f}: {mark}" if targeted else ""),
        f"- calm p99 under the login flood / without it, per round: "
        f"{_rounds_text(logins['p99'], 1)}",
    ]
    if "control_p50_ratio" in summary:
        hello = summary["ratio_rounds"]["hello"]
        lines.append(
            f"- control, calm p50 under a GET /api/hello flood / without it: "
            f"**{summary['control_p50_ratio']:.2f}** (rounds {_rounds_text(hello['p50'])}; "
            f"p99 {_rounds_text(hello['p99'], 1)})"
        )
    lines += [
        f"- calm client's error answers (non-2xx, connection errors, timeouts), all phases and "
        f"rounds: **{summary['calm_errors']}**" + (f"; target 0: {errors}" if targeted else ""),
        f"- login protection unavailable (logged by the server): {unavailable} times"
        + (" — **the run is not valid**" if unavailable else ""),
    ]
    for phase, flood in summary["flood"].items():
        lines.append(
            f"- the {PHASE_TITLES[phase]}: {flood['rps']:.0f} answers/s (median), "
            f"{flood['requests']} in all: {flood['2xx']} 2xx, {flood['401']} 401 "
            f"({flood['401/s']:.1f}/s), {flood['429 (Retry-After: 1)']} 429 with "
            f"Retry-After: 1, {flood['429 (other)']} other 429, {flood['other']} other, "
            f"{flood['socket errors']} socket errors; a flood request's time in the server, "
            f"connections / answers per second (median of rounds): "
            f"**{flood['time_in_server_ms']:.1f} ms**"
        )
    return [
        *lines,
        "",
        *_round_table(result["rounds"], name),
        *_profile_lines(result["rounds"], name),
        "",
    ]


def markdown(result: dict) -> str:
    s = result["settings"]
    code = result["code"]
    dirty = code["uncommitted_outside_bench"]
    lines = [
        "# Fairness between clients: a login flood on one client, another client's reads",
        "",
        f"{result['started']} to {result['finished']} ({result['seconds']} s), "
        f"`{result['command']}`; commit {code['commit']}"
        + (f" with uncommitted changes to {', '.join(dirty)}" if dirty else "")
        + f". {result['cpus']} CPUs; load average (1, 5, 15 min) before "
        f"{', '.join(map(str, result['load_average_before']))}, after "
        f"{', '.join(map(str, result['load_average_after']))}.",
        "",
        f"gunicorn with deploy/gunicorn.conf.py, {s['workers']} sync workers, unpinned. Calm "
        f"client: GET /api/user/ (Bearer) on calm.localhost at {s['calm_rate']:g} requests/s, "
        "open loop, latency from when each request was due. Login flood: wrong passwords on "
        f"flood.localhost over {s['flood_connections']} connections (wrk), a new X-Forwarded-For "
        f"address per request. {s['rounds']} rounds; per phase {s['warmup']} s of warm-up, "
        f"then {s['duration']} s measured. One Argon2 check: {result['hasher_ms']:.0f} ms "
        "in-process.",
        "",
    ]
    for name, summary in result["summary"].items():
        lines += _server_section(result, name, summary)
    return "\n".join(lines)
