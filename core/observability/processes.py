"""prometheus-client's multiprocess mode: every process that serves writes its metrics to files
in PROMETHEUS_MULTIPROC_DIR, and /metrics, answered by whichever web worker, adds them all up.

Why this mode (and not one exporter per process): gunicorn forks several workers behind one
port, so a scrape reaches one of them at random; Celery's prefork workers have no port at all.
With one folder per host (`make run`, a test's live servers, a pod or a compose volume shared by
web and worker), one scrape of any web worker sees the web workers and the Celery workers of that
host.

Each process names its files `<kind>_<role>-<host>-<pid>.db`, not prometheus-client's default
`<kind>_<pid>.db`: processes of several containers may share the folder (a volume), and their
pids collide. At start-up each role wipes its own files on this host (gunicorn's master in
`on_starting`, the Celery worker in `worker_init`, beat in `beat_init`): files left by a previous
run would otherwise be read as live, and a new process that got an old pid would add to them.
Counters of a process that exits stay in its file until then, as Prometheus expects of a counter;
gunicorn's `child_exit` calls `mark_process_dead`, which drops the live gauges of a dead worker.
(Two `celery worker` commands on one host and one folder would wipe each other's files: give
each its own folder, or run one worker with more concurrency.)

Without PROMETHEUS_MULTIPROC_DIR, metrics live in the process's memory (the test process).
"""

from __future__ import annotations

import glob
import os
import re
import socket
import sys
from pathlib import Path

__all__ = [
    "enabled",
    "mark_dead",
    "multiproc_dir",
    "process_identifier",
    "role",
    "use_identifiers",
    "wipe_role",
]

_ENV = "PROMETHEUS_MULTIPROC_DIR"
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def multiproc_dir() -> str | None:
    return os.environ.get(_ENV) or None


def enabled() -> bool:
    return multiproc_dir() is not None


def role() -> str:
    """`web`, `worker`, `beat` or `other`, from the command this process runs."""
    argv = sys.argv
    program = os.path.basename(argv[0]) if argv else ""
    if "gunicorn" in program:
        return "web"
    if "celery" in program or (len(argv) > 0 and argv[0].endswith("celery/__main__.py")):
        if "worker" in argv:
            return "worker"
        if "beat" in argv:
            return "beat"
    return "other"


_ROLE = role()
_identifier: tuple[int, str] = (-1, "")


def process_identifier() -> str:
    """This process's part of its file names; prometheus-client calls it on every increment
    (to notice a fork), so it is cached per pid."""
    global _identifier
    pid = os.getpid()
    if _identifier[0] != pid:
        _identifier = (pid, f"{_ROLE}-{_HOST}-{pid}")
    return _identifier[1]


def use_identifiers() -> None:
    """Name this process's metric files with `process_identifier` (before any metric exists)."""
    if os.environ.get(_ENV) == "":
        # Set but empty (an env file's blank line) means unset; prometheus-client would take it
        # as the current directory.
        del os.environ[_ENV]
    folder = multiproc_dir()
    if folder is None:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)


def wipe_role(role_name: str, path: str | None = None) -> int:
    """Delete the files of `role_name` on this host (a fresh start); returns how many."""
    folder = path or multiproc_dir()
    if folder is None:
        return 0
    Path(folder).mkdir(parents=True, exist_ok=True)
    removed = 0
    for name in glob.glob(os.path.join(folder, f"*_{role_name}-{_HOST}-*.db")):
        try:
            os.remove(name)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def mark_dead(pid: int) -> None:
    """A process of this host's role has exited: drop its live gauges."""
    folder = multiproc_dir()
    if folder is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(f"{_ROLE}-{_HOST}-{pid}", folder)
