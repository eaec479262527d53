"""The Celery app: `celery -A core.celery:app worker|beat`. Configured from Django settings."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

app = Celery("tenantauth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender: object = None, **kwargs: object) -> None:
    """Around every task, what Django does around every request: drop a connection that is
    older than CONN_MAX_AGE, failed its health check or saw an error, and keep the rest
    (settings.CELERY_DB_REUSE_MAX stops Celery from closing them all)."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # runs inside the caller's own connection and transaction
    from django.db import close_old_connections as django_close_old_connections

    django_close_old_connections()
