"""Core Django settings: debug, secrets, database, cache, templates, auth, static, logging.

https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from __future__ import annotations

import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.settings.environment import env_bool, env_int, env_list, required
from core.settings.secret_rules import refuse_weak_secret

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# --- Debug and secrets ----------------------------------------------------------------------
# Settings only read the environment: `make run` and the test session start the embedded
# servers and pass their URLs, a development key and (for `make run`) DEBUG=true.
DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = required("SECRET_KEY", "a long random string")
if not DEBUG:
    refuse_weak_secret("SECRET_KEY", SECRET_KEY)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])  # the tenant middleware rejects unknown hosts

# --- Database -------------------------------------------------------------------------------
# https://django-tenants.readthedocs.io/en/latest/install.html
DATABASE_URL = required("DATABASE_URL", "the PostgreSQL URL, e.g. postgres://user:pass@host/db")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        engine="core.hotpath.dbbackend",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# A database that does not answer (a host down, a black-holed route) fails a request after this
# many seconds, instead of holding a sync worker until gunicorn's timeout kills it: a 503
# (core.outage), and the next request tries again. (`?connect_timeout=` in the URL wins.)
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3)
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (Redis) --------------------------------------------------------------------------
REDIS_URL = required("REDIS_URL", "the Redis URL, e.g. redis://host:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "tenantauth",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# --- Hot path (core.hotpath) ----------------------------------------------------------------
# Mechanisms switched off, for measuring each alone (bench/http --ablate); none in production.
HOTPATH_OFF = frozenset(env_list("HOTPATH_OFF", []))
# Check every skipped `SET search_path` against the session (one extra round trip; tests).
HOTPATH_VERIFY_SEARCH_PATH = env_bool("HOTPATH_VERIFY_SEARCH_PATH", default=False)
# Per-process cache sizes: hosts (two per client is typical) and active users.
HOST_CACHE_SIZE = env_int("HOST_CACHE_SIZE", 50_000)
USER_CACHE_SIZE = env_int("USER_CACHE_SIZE", 50_000)
# Verified access tokens kept per process (authapi.tokens): about 1 kB each; one per active user
# within an access token's lifetime is enough.
TOKEN_CACHE_SIZE = env_int("TOKEN_CACHE_SIZE", 20_000)
for _name, _size in (
    ("HOST_CACHE_SIZE", HOST_CACHE_SIZE),
    ("USER_CACHE_SIZE", USER_CACHE_SIZE),
    ("TOKEN_CACHE_SIZE", TOKEN_CACHE_SIZE),
):
    if _size < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1, got {_size}")

# --- Application ----------------------------------------------------------------------------
ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
ASGI_APPLICATION = "core.asgi.application"

# Outermost in both stacks: request id, /metrics, the request's metrics and log line.
MIDDLEWARE = [
    "core.observability.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.outage.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.health.HealthMiddleware",
    "tenants.middleware.TenantMiddleware",
    "audit.context.AuditContextMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.ApiErrorShapeMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The JSON API (/api/, /auth/) skips the session, CSRF, auth and message layers; see
# core.hotpath.handlers (cookie mode checks CSRF itself: authapi.cookies). CORS comes right after
# the tenant is known (tenants.origins decides per client) and before anything that can refuse.
# Both admins' session logins count failures and refuse blocked ones like the API (SPEC §10).
AUTHENTICATION_BACKENDS = ["authapi.backends.ProtectedModelBackend"]

API_MIDDLEWARE = [
    "core.observability.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.outage.DatabaseOutageMiddleware",
    "tenants.middleware.TenantMiddleware",
    "audit.context.AuditContextMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.ApiErrorShapeMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The largest JSON body the API reads (413 above it). Its bodies are credentials and tokens of a
# few kilobytes at most; Django's own 2.5 MB limit still applies to forms.
API_MAX_BODY_BYTES = 64 * 1024
# API routes that also take an HTML form post (urlencoded, with `csrfmiddlewaretoken`): cookie
# mode's logout, so that a page's plain <form> can log out and be redirected.
API_FORM_PATHS = frozenset({"/api/auth/cookie/logout/"})

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "authapi.User"
# Argon2id first; PBKDF2 stays so hashes made before the switch still verify (and are upgraded).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/admin/"
LOGOUT_REDIRECT_URL = "/login/"

# --- I18N / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (served by the app itself via whitenoise) ---------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"  # filled by collectstatic (the image does it)
# Without collectstatic (development, tests) whitenoise serves through the finders and would
# warn at every start that STATIC_ROOT does not exist.
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # works without collectstatic in development and tests

# Debug pages and error reports hide connection URLs as well as secrets.
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.reporting.ConnectionsHiddenFilter"

# Logging (LOGGING, LOG_FORMAT) is in core/settings/observability.py.
