"""JWT settings for django-ninja-jwt.

https://eadwincode.github.io/django-ninja-jwt/settings/
"""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from core.settings.base import DEBUG, SECRET_KEY
from core.settings.environment import env, env_int, env_list, env_seconds
from core.settings.secret_rules import refuse_weak_secret

JWT_SIGNING_KEY = env("JWT_SIGNING_KEY")
if JWT_SIGNING_KEY is not None and not DEBUG:
    refuse_weak_secret("JWT_SIGNING_KEY", JWT_SIGNING_KEY)

NINJA_JWT = {
    "ACCESS_TOKEN_LIFETIME": env_seconds("ACCESS_TOKEN_LIFETIME_SECONDS", timedelta(minutes=5)),
    "REFRESH_TOKEN_LIFETIME": env_seconds("REFRESH_TOKEN_LIFETIME_SECONDS", timedelta(days=1)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY or SECRET_KEY,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "LEEWAY": 0,
}

# Sessions (SPEC §7): a login's absolute lifetime, which rotation never extends, and how long a
# just-rotated refresh token may be rotated again (a client retrying) before it counts as reuse.
SESSION_MAX_LIFETIME = env_seconds("SESSION_MAX_LIFETIME_SECONDS", timedelta(days=30))
REFRESH_REUSE_GRACE_SECONDS = env_int("REFRESH_REUSE_GRACE_SECONDS", 0)

# Signing keys per client (SPEC §9; signing/): ES256 (default) or RS256 sign every client's
# tokens with a key pair of its own, published at /.well-known/jwks.json; HS256 is the legacy
# mode (one shared secret, NINJA_JWT's SIGNING_KEY, no JWKS). Tokens signed with HS256 before a
# client's first key pair existed stay valid until they expire.
JWT_ALGORITHM = (env("JWT_ALGORITHM", "ES256") or "ES256").upper()
if JWT_ALGORITHM not in ("ES256", "RS256", "HS256"):
    raise ImproperlyConfigured("JWT_ALGORITHM must be ES256, RS256 or HS256")
# Fernet keys (comma-separated): the first encrypts private keys, every one decrypts (rotate by
# putting a new key first). Required with an asymmetric algorithm when DEBUG is off; `make run`
# and `make test` keep a development key in their data folder.
KEY_ENCRYPTION_KEYS = env_list("KEY_ENCRYPTION_KEY", [])
for _key in KEY_ENCRYPTION_KEYS:
    try:
        from cryptography.fernet import Fernet

        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "KEY_ENCRYPTION_KEY: each key must be 32 url-safe base64-encoded bytes, as "
            "cryptography.fernet.Fernet.generate_key() makes"
        ) from None
if JWT_ALGORITHM != "HS256" and not KEY_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        f"KEY_ENCRYPTION_KEY is required with JWT_ALGORITHM={JWT_ALGORITHM} (it encrypts each "
        "client's private signing key at rest)"
    )
