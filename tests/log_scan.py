"""pytest plugin (`-p tests.log_scan` in pyproject.toml): no token, API key, password hash,
private key or test password in any log line of the run (SPEC §11).

Every log record of the test process goes to a capture file (a handler on the root logger, put
back before each test if something reconfigured logging), and the logs of the servers the tests
start (gunicorn, Celery workers, `make run`) are appended to it with `keep(path)` before they
are thrown away. When the session ends the whole file is scanned; a finding fails the run
(exit status 1) and is listed in the summary, with where the file is kept.

What counts as a secret: JWT-shaped strings (`eyJ….eyJ…`: every access and refresh token),
API keys (`tat_` and 20+ characters), password hashes (Argon2, PBKDF2, the test run's MD5), PEM
private keys, the run's SECRET_KEY and KEY_ENCRYPTION_KEY, and every password-like literal the
tests' sources pass as a password. No Django here: tests/observability/test_log_scan.py runs this
plugin alone in a pytest of its own to show that a planted token fails a run.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["Finding", "keep", "scan", "test_passwords"]

TESTS = Path(__file__).resolve().parent

PATTERNS = {
    "jwt": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?"),
    "api_key": re.compile(r"tat_[A-Za-z0-9_-]{20,}"),
    "argon2_hash": re.compile(r"\$argon2(?:id|i|d)\$v=\d+\$"),
    "pbkdf2_hash": re.compile(r"pbkdf2_sha(?:256|1)\$\d+\$"),
    "md5_hash": re.compile(r"\bmd5\$[A-Za-z0-9]+\$[0-9a-f]{32}\b"),
    "private_key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
}
_PASSWORD_LITERAL = re.compile(r"""(?i)pass\w*["']?\s*[:=,(]\s*["']([^"'\s]{8,})["']""")


@dataclass(frozen=True)
class Finding:
    kind: str
    line_no: int
    excerpt: str


def test_passwords() -> set[str]:
    """Password-like literals the tests pass as passwords (not key names, not addresses)."""
    found: set[str] = set()
    for path in TESTS.rglob("*.py"):
        for value in _PASSWORD_LITERAL.findall(path.read_text(errors="replace")):
            if re.fullmatch(r"[a-z_]+\d*|[0-9a-fA-F:./]+", value):
                continue
            if re.search(r"[A-Za-z]", value) and re.search(r"[^A-Za-z]", value):
                found.add(value)
    return found


test_passwords.__test__ = False  # type: ignore[attr-defined]


def _literal_secrets() -> dict[str, str]:
    secrets = {value: "test_password" for value in test_passwords()}
    for name in ("SECRET_KEY", "KEY_ENCRYPTION_KEY", "METRICS_TOKEN"):
        for value in (os.environ.get(name) or "").split(","):
            if len(value.strip()) >= 16:
                secrets[value.strip()] = name.lower()
    return secrets


def scan(text: str, literals: dict[str, str] | None = None) -> list[Finding]:
    """Every secret in `text`, by kind, with a masked excerpt (the report must not leak it)."""
    literals = _literal_secrets() if literals is None else literals
    findings = []
    for line_no, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(line):
                findings.append(Finding(kind, line_no, _masked(line, match.start(), match.end())))
        for value, kind in literals.items():
            start = line.find(value)
            if start >= 0:
                findings.append(Finding(kind, line_no, _masked(line, start, start + len(value))))
    return findings


def _masked(line: str, start: int, end: int) -> str:
    before = line[max(0, start - 60) : start]
    return f"{before}[{line[start : start + 4]}…{end - start} chars]{line[end : end + 40]}"


class _Capture:
    def __init__(self) -> None:
        folder = os.environ.get("TENANTAUTH_DATA_DIR") or tempfile.gettempdir()
        fd, name = tempfile.mkstemp(prefix="test-run-logs-", suffix=".log", dir=folder)
        os.close(fd)
        self.path = Path(name)
        self.handler = logging.FileHandler(self.path, encoding="utf-8")
        self.handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        self.findings: list[Finding] = []

    def attach(self) -> None:
        root = logging.getLogger()
        if self.handler not in root.handlers:  # dictConfig (django.setup) replaces root's
            root.addHandler(self.handler)

    def append(self, label: str, text: str) -> None:
        self.handler.acquire()
        try:
            self.handler.flush()
            with self.path.open("a", encoding="utf-8") as out:
                out.write(f"----- {label} -----\n{text}\n----- end of {label} -----\n")
        finally:
            self.handler.release()


_capture: _Capture | None = None


def keep(path: Path | str, label: str | None = None) -> None:
    """Add a server's log file to the run's scan (call before the file is deleted)."""
    if _capture is None:
        return
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return
    _capture.append(label or path.name, text)


def pytest_sessionstart(session: pytest.Session) -> None:
    global _capture
    _capture = _Capture()
    _capture.attach()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _capture is not None:
        _capture.attach()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _capture is None:
        return
    logging.getLogger().removeHandler(_capture.handler)
    _capture.handler.close()
    _capture.findings = scan(_capture.path.read_text(encoding="utf-8", errors="replace"))
    if _capture.findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        _capture.path.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _capture is None or not _capture.findings:
        return
    terminalreporter.section("log scan: secrets in the logs of this run", red=True)
    for finding in _capture.findings[:50]:
        terminalreporter.line(f"{finding.kind} at line {finding.line_no}: {finding.excerpt}")
    terminalreporter.line(f"{len(_capture.findings)} finding(s); the logs: {_capture.path}")
