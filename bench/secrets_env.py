"""The secrets a benchmark's throwaway servers need, made fresh for each run."""

from __future__ import annotations

import secrets


def app_secrets() -> dict[str, str]:
    """SECRET_KEY, and KEY_ENCRYPTION_KEY (a Fernet key: it encrypts each client's private
    signing key at rest; required with JWT_ALGORITHM=ES256 or RS256, the default ES256)."""
    from cryptography.fernet import Fernet

    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
