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


def test_production_hashes_with_argon2id_and_tests_with_a_fast_hasher():
    from django.conf import settings

    from core.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.MD5PasswordHasher"
    assert set(base.PASSWORD_HASHERS) <= set(settings.PASSWORD_HASHERS)  # old hashes verify


@pytest.mark.parametrize("name", ["DATABASE_URL", "REDIS_URL"])
def test_a_missing_connection_url_stops_startup_with_a_clear_message(name):
    env = dict(os.environ, DEBUG="true", SECRET_KEY="dev", DJANGO_SETTINGS_MODULE="core.settings")
    env.pop(name)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"{name} is not set" in result.stderr


def test_importing_settings_starts_nothing_and_writes_nothing(tmp_path):
    """With URLs that point nowhere, settings import and `check` still pass: nothing connects."""
    env = dict(
        os.environ,
        DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing",
        REDIS_URL="redis://127.0.0.1:1/0",
        SECRET_KEY="dev",
        DEBUG="true",
        TENANTAUTH_DATA_DIR=str(tmp_path / "data"),
        DJANGO_SETTINGS_MODULE="core.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('ok')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data").exists()


def test_debug_is_off_unless_asked_for():
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="core.settings")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            " print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(("interval", "kept"), [("30", 60.0), ("3600", 3600.0), ("7200", 7200.0)])
def test_purge_results_are_kept_until_the_next_purge_and_no_longer(interval, kept):
    # Kept for a fixed hour, a 30 s purge interval piled 120 rounds of results up in Redis.
    env = dict(
        os.environ,
        DEBUG="true",
        SECRET_KEY="dev",
        DJANGO_SETTINGS_MODULE="core.settings",
        PURGE_INTERVAL_SECONDS=interval,
    )
    code = (
        "import django; django.setup(); from core.celery import app; "
        "print(app.conf.result_expires.total_seconds() if hasattr(app.conf.result_expires, "
        "'total_seconds') else app.conf.result_expires)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) == kept
