"""Which signing secrets a production start refuses: published samples and weak keys.

A key that anyone can read (the sample of deploy/.env.example or deploy/k8s/ of any release, a
Django `startproject` key) lets anyone forge any tenant's tokens and sessions. Weak is Django's
own rule (security.W009): fewer than 50 characters or fewer than 5 distinct ones.
"""

from __future__ import annotations

__all__ = ["PUBLISHED_SAMPLES", "refuse_weak_secret", "weak_secret_reason"]

# Every sample value this project has ever published in its deploy files. Keep adding to it:
# a deployment may still run on a copy of an old sample.
PUBLISHED_SAMPLES = frozenset(
    {
        "change-me-to-a-long-random-string-of-at-least-50-characters-0123456789",
        "change-me",
        "build-only",
    }
)

_MIN_LENGTH = 50
_MIN_UNIQUE_CHARACTERS = 5


def weak_secret_reason(value: str) -> str | None:
    """Why `value` may not sign anything in production, or None when it is acceptable."""
    if value in PUBLISHED_SAMPLES or value.lower().startswith(("change-me", "changeme")):
        return "is a published sample value"
    if value.startswith("django-insecure-"):
        return "is a Django development key (django-insecure-…)"
    if len(value) < _MIN_LENGTH or len(set(value)) < _MIN_UNIQUE_CHARACTERS:
        return (
            f"is weak (fewer than {_MIN_LENGTH} characters or fewer than "
            f"{_MIN_UNIQUE_CHARACTERS} distinct ones)"
        )
    return None


def refuse_weak_secret(name: str, value: str) -> None:
    """Raise ImproperlyConfigured naming the setting when `value` is refused."""
    from django.core.exceptions import ImproperlyConfigured

    reason = weak_secret_reason(value)
    if reason is not None:
        raise ImproperlyConfigured(
            f"{name} {reason}; with DEBUG off it must be a long random secret of your own, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
