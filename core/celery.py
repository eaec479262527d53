"""The Celery app: `celery -A core.celery:app worker|beat`. Configured from Django settings."""

import os

from celery import Celery
from celery.signals import (
    beat_init,
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
)

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


@setup_logging.connect
def _logging_from_django(**kwargs: object) -> None:
    """Django's LOGGING in workers and beat too (instead of Celery's own format), so their lines
    carry the request id and follow LOG_FORMAT like the web's."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@before_task_publish.connect
def _request_id_into_task(headers: dict[str, object] | None = None, **kwargs: object) -> None:
    from core.observability.tasks import id_into_headers

    id_into_headers(headers)


@task_prerun.connect
def _request_id_for_task(task_id: str | None = None, task: object = None, **kwargs: object) -> None:
    from core.observability.tasks import id_for_task

    id_for_task(task_id, task)


@task_postrun.connect
def _request_id_done(task_id: str | None = None, **kwargs: object) -> None:
    from core.observability.tasks import id_done

    id_done(task_id)


@worker_init.connect
def _metrics_fresh_for_worker(**kwargs: object) -> None:
    """The worker's metric files of a previous run on this host go
    (core.observability.processes)."""
    from core.observability.processes import wipe_role

    wipe_role("worker")


@beat_init.connect
def _metrics_fresh_for_beat(**kwargs: object) -> None:
    from core.observability.processes import wipe_role

    wipe_role("beat")
