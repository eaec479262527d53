"""The scan of the run's logs (tests/log_scan.py) finds what it looks for, and fails a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import log_scan

ROOT = Path(__file__).resolve().parents[2]
JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl"


def test_the_scanner_finds_each_kind_of_secret():
    planted = {
        "jwt": f"event=x header=Bearer {JWT}",
        "api_key": "key=tat_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg",
        "argon2_hash": "pw=argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
        "pbkdf2_hash": "pbkdf2_sha256$1000000$salt$hash",
        "md5_hash": "md5$abcdefgh$0123456789abcdef0123456789abcdef",
        "private_key": "-----BEGIN EC PRIVATE KEY-----",
        "test_password": 'body={"password": "C0rrect-horse-battery"}',
    }
    for kind, line in planted.items():
        findings = log_scan.scan(f"clean line\n{line}\n")
        assert [(f.kind, f.line_no) for f in findings] == [(kind, 2)], kind
        assert line not in findings[0].excerpt  # the report itself leaks nothing whole


def test_ordinary_log_lines_are_clean():
    lines = (
        "ts=2026-01-01 level=INFO logger=tenantauth.request request_id=4f1c event=request "
        "method=POST route=/api/auth/token/ status=401 duration_ms=3.1 schema=acme user_id=-\n"
        "level=WARNING logger=authapi.sessions event=refresh_reuse_detected user_id=5\n"
        "API key prefix=tat_AbCdEfGh name=ci\n"
    )
    assert log_scan.scan(lines) == []


def test_the_passwords_of_the_tests_are_collected():
    passwords = log_scan.test_passwords()
    assert {"C0rrect-horse-battery", "Adm1n-pass-for-tests", "Sm0ke-test-admin-pass"} <= passwords
    assert not {"new_password", "password2", "2001:db8:1:3::1"} & passwords


def _run_pytest_with(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_planted.py"
    test_file.write_text(f"import logging\n\n\ndef test_logs():\n    {body}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["TENANTAUTH_DATA_DIR"] = str(tmp_path)  # where the capture goes
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-p",
            "tests.log_scan",
            "--rootdir",
            str(tmp_path),
            str(test_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_run_whose_logs_hold_a_token_fails(tmp_path):
    clean = _run_pytest_with(tmp_path, 'logging.getLogger("x").warning("event=ok user_id=5")')
    assert clean.returncode == 0, clean.stdout + clean.stderr
    planted = _run_pytest_with(tmp_path, f'logging.getLogger("x").warning("token={JWT}")')
    assert planted.returncode == 1, planted.stdout + planted.stderr
    assert "1 passed" in planted.stdout  # the test itself passed: the scan failed the run
    assert "log scan: secrets in the logs of this run" in planted.stdout
    assert "jwt at line" in planted.stdout and JWT not in planted.stdout
