import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_debug_off_without_secret_key_stops_startup_with_a_clear_message():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SIGNING_KEY"}}
    env.update(DEBUG="false", DJANGO_SETTINGS_MODULE="core.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_off_with_secret_key_starts(tmp_path):
    env = dict(
        os.environ, DEBUG="false", SECRET_KEY="x" * 60, DJANGO_SETTINGS_MODULE="core.settings"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
