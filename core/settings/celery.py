"""Celery: broker and results on Redis, the purge on a beat schedule.

https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from core.settings.base import REDIS_URL
from core.settings.environment import env_int


def _celery_url(url: str) -> str:
    # redis-py spells a unix socket unix://, kombu and Celery's backend spell it redis+socket://
    if url.startswith("unix://"):
        return "redis+socket://" + url.removeprefix("unix://").split("?", 1)[0]
    return url


CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = _celery_url(REDIS_URL)
PURGE_INTERVAL_SECONDS = env_int("PURGE_INTERVAL_SECONDS", 3600)
PURGE_BATCH_SIZE = env_int("PURGE_BATCH_SIZE", 5000)
# The purge tasks are the only tasks, and a purge's results matter until the next one replaces
# them: kept longer (an hour), they piled up in Redis when the interval is short (bench/soak).
CELERY_RESULT_EXPIRES = max(PURGE_INTERVAL_SECONDS, 60)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes every database connection before and after every task unless
# this is set (celery#9824 undid its honouring of CONN_MAX_AGE): a new PostgreSQL session per
# task, which was most of the cost of a small purge task. With it, the fixup closes them every
# this many tasks, and core.celery treats each task like a request: close_old_connections()
# applies CONN_MAX_AGE and the health check around it, and a task that did not succeed closes
# every connection.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)

CELERY_BEAT_SCHEDULE = {
    "purge-expired-tokens": {
        "task": "authapi.tasks.purge_dispatch",
        "schedule": float(PURGE_INTERVAL_SECONDS),
    }
}
