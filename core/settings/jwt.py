"""JWT settings for django-ninja-jwt.

https://eadwincode.github.io/django-ninja-jwt/settings/
"""

from datetime import timedelta

from core.settings.base import DEBUG, SECRET_KEY
from core.settings.environment import env, env_int, env_seconds
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
