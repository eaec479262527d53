"""Celery tasks: thin adapters over authapi.purge. Beat runs `purge_dispatch` on a schedule
(CELERY_BEAT_SCHEDULE, every PURGE_INTERVAL_SECONDS); it enqueues one `purge_schema` per schema
so that many tenants spread over many workers and no task holds a connection for long.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from authapi import purge

__all__ = ["purge_dispatch", "purge_schema"]

logger = logging.getLogger(__name__)

_TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
    soft_time_limit=60,
    time_limit=90,
)
def purge_dispatch() -> dict[str, str]:
    """Enqueue one purge per schema (public and every active tenant); returns schema -> task id.

    A purge not started within one interval expires: the next dispatch has enqueued a fresh one.
    """
    task_ids: dict[str, str] = {}
    for schema_name in purge.schemas_to_purge():
        result = purge_schema.apply_async((schema_name,), expires=settings.PURGE_INTERVAL_SECONDS)
        task_ids[schema_name] = result.id
    logger.info("event=tokens_purge_dispatched schemas=%d", len(task_ids))
    return task_ids


@shared_task(
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=240,
    time_limit=300,
)
def purge_schema(schema_name: str) -> dict[str, str | int]:
    """Purge the expired tokens of one schema; returns the counts.

    Every batch commits on its own, so a retry after a transient database error (or a time
    limit) carries on from where the failed attempt stopped.
    """
    try:
        result = purge.tokens_purge_expired(schema_name=schema_name)
    except purge.UnknownSchemaError:
        # Deactivated or deleted since the dispatch: nothing to purge, nothing to retry.
        logger.warning("event=tokens_purge_skipped schema=%s reason=unknown_schema", schema_name)
        return purge.PurgeResult(schema_name, 0, 0).as_dict()
    logger.info(
        "event=tokens_purged schema=%s outstanding=%d blacklisted=%d sessions=%d api_tokens=%d "
        "signing_keys_retired=%d audit_events=%d",
        result.schema,
        result.outstanding_deleted,
        result.blacklisted_deleted,
        result.sessions_deleted,
        result.api_tokens_deleted,
        result.signing_keys_retired,
        result.audit_events_deleted,
    )
    return result.as_dict()
