"""Cookies, CSRF, HTTPS. Production values switch on with DEBUG off.

https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
"""

import ipaddress
import re

from django.core.exceptions import ImproperlyConfigured

from core.settings.base import DEBUG
from core.settings.environment import env, env_bool, env_int, env_list

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Host-only cookies (no SESSION_COOKIE_DOMAIN): a session started on one tenant's host is never
# sent to another's, and each schema has its own session table besides.
SESSION_COOKIE_DOMAIN = None
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# TLS redirects usually happen at the proxy; set SECURE_SSL_REDIRECT=true when the app must do it.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
# Health probes come over plain HTTP from the orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# Proxies (CIDRs, comma-separated) whose X-Forwarded-For is believed: the client IP recorded on
# sessions (and counted by login protection) is the address the nearest trusted proxy appended;
# from any other peer the header is ignored (core.clientip). Default none: REMOTE_ADDR.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP network") from None

# CORS (SPEC §8), django-cors-headers: https://github.com/adamchainz/django-cors-headers
# No origin is allowed globally; each client lists its own (Client.allowed_origins), checked per
# request by tenants.origins.origin_allowed on the paths of CORS_URLS_REGEX only.
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_URLS_REGEX = r"^/(api|auth|\.well-known)/"
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_HEADERS = ["authorization", "content-type", "x-csrftoken"]
CORS_EXPOSE_HEADERS = ["Retry-After", "WWW-Authenticate"]
CORS_PREFLIGHT_MAX_AGE = 600

# Cookie mode (SPEC §8, authapi.cookies): the JWT cookies are host-only unless a domain is set;
# AUTH_COOKIE_SAMESITE overrides SameSite of both (None, for frontends on another site, implies
# Secure).
AUTH_COOKIE_DOMAIN = env("AUTH_COOKIE_DOMAIN") or None
AUTH_COOKIE_SAMESITE = env("AUTH_COOKIE_SAMESITE") or None
if AUTH_COOKIE_SAMESITE is not None:
    AUTH_COOKIE_SAMESITE = AUTH_COOKIE_SAMESITE.capitalize()
    if AUTH_COOKIE_SAMESITE not in ("Lax", "Strict", "None"):
        raise ImproperlyConfigured("AUTH_COOKIE_SAMESITE must be Lax, Strict or None")

# Attack protection (SPEC §10; authapi.protection). Counters live in Redis, per client.
# Failed logins for one account (the login string as typed, known or not) from one IP within the
# window, then that account is refused from that IP (429) until the window has passed:
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 10)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
# Failed logins from one IP to one client within the window, then every login from it is refused:
LOGIN_IP_MAX_FAILURES = env_int("LOGIN_IP_MAX_FAILURES", 100)
# Registrations per IP and client: "<count>/<s|m|h|d>".
REGISTER_RATE = env("REGISTER_RATE", "20/h") or "20/h"
if not re.fullmatch(r"[1-9]\d*/[smhd]", REGISTER_RATE):
    raise ImproperlyConfigured("REGISTER_RATE must look like 20/h (a count per s, m, h or d)")
# Password checks (Argon2, the expensive part of a login) running at once for one client, across
# every web process: more are answered 429 at once instead of queueing behind the hasher, so one
# client's login flood cannot take the workers from the others. About half the web workers of
# the whole deployment is a good value.
LOGIN_HASH_CONCURRENCY = env_int("LOGIN_HASH_CONCURRENCY", 1)
for _name, _value in (
    ("LOGIN_HASH_CONCURRENCY", LOGIN_HASH_CONCURRENCY),
    ("LOGIN_MAX_FAILURES", LOGIN_MAX_FAILURES),
    ("LOGIN_IP_MAX_FAILURES", LOGIN_IP_MAX_FAILURES),
    ("LOGIN_FAILURE_WINDOW_SECONDS", LOGIN_FAILURE_WINDOW_SECONDS),
):
    if _value < 1:  # 0 would refuse every login (or block at once)
        raise ImproperlyConfigured(f"{_name} must be at least 1")

# Audit events older than this are deleted by the purge job.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 90)
