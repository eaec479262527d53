"""The Celery app: `celery -A core.celery:app worker|beat`. Configured from Django settings."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

app = Celery("tenantauth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _is_eager(sender: object) -> bool:
    # An eager task runs inside the caller's own connection and transaction: leave them alone.
    return bool(getattr(getattr(sender, "request", None), "is_eager", False))


@task_prerun.connect
def _connections_before_task(sender: object = None, **kwargs: object) -> None:
    """Before every task, what Django does before every request: drop a connection that is
    older than CONN_MAX_AGE or fails its health check, and keep the rest
    (settings.CELERY_DB_REUSE_MAX stops Celery from closing them all)."""
    if _is_eager(sender):
        return
    from django.db import close_old_connections

    close_old_connections()


@task_postrun.connect
def _connections_after_task(
    sender: object = None, state: str | None = None, **kwargs: object
) -> None:
    """After a task that did not succeed, close every connection: a time limit or an error may
    have interrupted it mid-query and left a connection that looks usable but is not (why
    celery#9824 went back to closing them all). After a success, as after a request."""
    if _is_eager(sender):
        return
    from django.db import close_old_connections, connections

    if state == "SUCCESS":
        close_old_connections()
    else:
        connections.close_all()
