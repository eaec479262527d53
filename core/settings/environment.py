"""The one place the environment is read. Every setting module imports from here."""

from __future__ import annotations

import os
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

__all__ = ["env", "env_bool", "env_int", "env_list", "env_seconds", "required"]


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def required(name: str, what: str) -> str:
    """The value of `name`, or a start-up error that says what to set."""
    value = env(name)
    if value is None:
        raise ImproperlyConfigured(
            f"{name} is not set. Set the {name} environment variable ({what}); `make run` and "
            "`make test` set it for their embedded servers."
        )
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_seconds(name: str, default: timedelta) -> timedelta:
    return timedelta(seconds=env_int(name, int(default.total_seconds())))


def env_list(name: str, default: list[str]) -> list[str]:
    value = env(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]
