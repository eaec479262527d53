"""gunicorn settings for the web tier (the image's command: deploy/start-web.sh).

https://docs.gunicorn.org/en/stable/settings.html
"""

import multiprocessing
import os
import shutil
import tempfile

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
# Sync workers: the API is CPU-bound (hashing, JWT) with short DB calls. One container per
# core or two; scale out with replicas rather than huge worker counts.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "1000"))
# Trust X-Forwarded-* only from the proxy in front (nginx / ingress).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
preload_app = True
# One line per request comes from the app (core.observability: request id, route pattern, status,
# duration, user id; never the query string), so gunicorn's own access log is off unless asked.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None

# Metrics: prometheus-client's multiprocess mode (core.observability.processes). Every worker
# writes its metrics to files in PROMETHEUS_MULTIPROC_DIR and /metrics adds them up; without a
# folder given, one of this server's own (removed when it stops).
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_dir = tempfile.mkdtemp(prefix="tenantauth-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def on_starting(server):
    from core.observability.processes import wipe_role

    wipe_role("web")  # a previous run's files on this host would be counted as live


def child_exit(server, worker):
    from core.observability.processes import mark_dead

    mark_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir is not None:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
