"""GET /metrics (SPEC §11): Prometheus's text format, on any host, to METRICS_ALLOWED_IPS (the
client IP as core.clientip reads it: X-Forwarded-For only from TRUSTED_PROXIES) or to a request
with `Authorization: Bearer <METRICS_TOKEN>`; to anyone else a plain 404 (`not_found`), so the
endpoint does not advertise itself.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn, Celery: core.observability.processes) the answer
adds up the files of every process of the host; without it, this process's own metrics.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.clientip import IPNetwork, client_ip, parse_networks
from core.envelope import error_response
from core.observability import metrics, processes

__all__ = ["METRICS_PATH", "metrics_response"]

METRICS_PATH = "/metrics"


@functools.cache
def _allowed(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(networks)


def _token_ok(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    # Constant time: how much of a guess matched must not show in the answer's timing.
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def _address_ok(request: HttpRequest) -> bool:
    ip = client_ip(request)
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in net for net in _allowed(tuple(settings.METRICS_ALLOWED_IPS)))


def _text() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    metrics.caches_flush()
    if processes.enabled():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def metrics_response(request: HttpRequest) -> HttpResponse:
    if not (_address_ok(request) or _token_ok(request)):
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "Not Found")
    body, content_type = _text()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
