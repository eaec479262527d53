"""Metrics, request ids and logs (SPEC §11; deploy/README.md, "Metrics and logs").

https://prometheus.github.io/client_python/multiprocess/
https://docs.python.org/3/library/logging.config.html
"""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from core.settings.environment import env, env_bool, env_list

# --- Metrics (core.observability) -----------------------------------------------------------
# GET /metrics answers these addresses (the client IP as core.clientip reads it) ...
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_network!r} is not an IP network"
        ) from None
# ... or a request with `Authorization: Bearer <METRICS_TOKEN>`; everyone else gets a 404.
METRICS_TOKEN = env("METRICS_TOKEN", "") or ""
# A `client` label (the schema) on every metric: off, since thousands of clients times routes
# times statuses is more series than a Prometheus wants; turn on for a few clients only.
METRICS_CLIENT_LABEL = env_bool("METRICS_CLIENT_LABEL", default=False)

# --- Logging: key=value lines, or JSON ------------------------------------------------------
LOG_FORMAT = (env("LOG_FORMAT", "kv") or "kv").lower()
if LOG_FORMAT not in ("kv", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be kv or json, got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every record gets the id of the request (or task) it was written for: core.observability.
    "filters": {"request_id": {"()": "core.observability.logs.RequestIdFilter"}},
    "formatters": {
        "kv": {"()": "core.observability.logs.KeyValueFormatter"},
        "json": {"()": "core.observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": (env("LOG_LEVEL", "INFO") or "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
