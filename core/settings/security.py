"""Cookies, CSRF, HTTPS. Production values switch on with DEBUG off.

https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
"""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from core.settings.base import DEBUG
from core.settings.environment import env_bool, env_int, env_list

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
