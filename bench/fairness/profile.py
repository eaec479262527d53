"""py-spy on every gunicorn worker during a flooded measurement, and where its time went.

Sampled with --idle, so the samples cover the worker's whole wall-clock time, waiting included:
a sync worker serves one connection at a time, so what it waits on (Redis, PostgreSQL, the CPU,
the client closing its end) delays the connections queued behind it as much as its own work.
Only the worker's main thread counts (the one that serves requests); each of its samples is
put in the first category that one of its frames matches.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE = 200  # samples per second
CATEGORIES = (
    ("argon2 hashing", re.compile(r"^(hash_secret|verify_secret) \(argon2/")),
    ("waiting for a connection (idle)", re.compile(r"^SyncWorker\.wait \(gunicorn/")),
    ("close: waiting for the client's FIN", re.compile(r"^close_graceful \(gunicorn/")),
    ("Redis round trips", re.compile(r"\(redis/")),
    ("PostgreSQL round trips", re.compile(r"\(psycopg/")),
    ("sending the response", re.compile(r"^write \(gunicorn/util")),
    ("login, the rest", re.compile(r"^login \(authapi/api\.py")),
    ("other request handling", re.compile(r"^SyncWorker\.handle \(gunicorn/")),
)
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['fn']} ({path})"


def start(pids: list[int], seconds: int, out_dir: Path, label: str) -> list[tuple]:
    spies = []
    for n, pid in enumerate(pids):
        out = out_dir / f"profile-{label}-worker{n + 1}.txt"
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)]
        command += ["--duration", str(seconds), "--rate", str(RATE), "--format", "raw"]
        command += ["--idle", "--nonblocking", "--output", str(out)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        spies.append((process, out, seconds))
    return spies


def summarize(path: Path, seconds: int, top: int = 12) -> dict:
    categories: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        if not any(f.startswith("SyncWorker.run ") for f in frames):
            continue  # another thread (the cache's Redis subscriber): not the request loop
        n = int(count)
        total += n
        own[frames[-1] if frames else "?"] += n
        for category, pattern in CATEGORIES:
            if any(pattern.search(frame) for frame in frames):
                categories[category] += n
                break
        else:
            categories["other"] += n
    share = {name: round(n / total, 3) for name, n in categories.most_common()} if total else {}
    return {
        "file": path.name,
        "samples": total,
        "coverage": round(total / (RATE * seconds), 3),  # samples taken / samples due
        "categories": share,
        "top_self": [[f, round(n / total, 3)] for f, n in own.most_common(top)] if total else [],
    }


def finish(spies: list[tuple]) -> list[dict]:
    summaries = []
    for process, out, seconds in spies:
        process.wait(timeout=60)
        if out.exists():
            summary = summarize(out, seconds)
            out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=1) + "\n")
            summaries.append(summary)
    return summaries
