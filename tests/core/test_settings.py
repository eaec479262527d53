import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

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
        os.environ,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SETTINGS_MODULE="core.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", "change-me-to-a-long-random-string-of-at-least-50-characters-0123456789"),
        ("SECRET_KEY", "x" * 60),
        ("SECRET_KEY", "Only-49-characters-long-" + "abcdefghijklmnopqrstuvwxy"),
        ("SECRET_KEY", "django-insecure-" + "k3y" * 20),
        ("JWT_SIGNING_KEY", "jwt-secret"),
    ],
)
def test_debug_off_with_a_sample_or_weak_key_refuses_to_start(name, value):
    env = dict(
        os.environ,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SETTINGS_MODULE="core.settings",
    )
    env[name] = value
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"{name} is" in result.stderr
    assert value not in result.stderr  # the refusal names the setting, never echoes the key


def test_debug_on_accepts_a_short_development_key():
    env = dict(os.environ, DEBUG="true", SECRET_KEY="dev", DJANGO_SETTINGS_MODULE="core.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_debug_pages_hide_connection_urls():
    from django.conf import settings
    from django.views.debug import get_default_exception_reporter_filter

    reporter = get_default_exception_reporter_filter()
    safe = reporter.get_safe_settings()
    shown = repr(safe)
    for secret in (settings.DATABASE_URL, settings.REDIS_URL, settings.CELERY_BROKER_URL):
        assert secret not in shown
    database = safe["DATABASES"]["default"]
    assert database["HOST"] == database["PASSWORD"] == reporter.cleansed_substitute
