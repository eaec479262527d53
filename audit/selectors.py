"""Reading audit events of the current schema."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import AuditEvent

__all__ = ["event_list"]


def event_list(*, event: str | None = None, user_id: int | None = None) -> QuerySet[AuditEvent]:
    """Newest first, filtered by event type and user."""
    events = AuditEvent.objects.order_by("-at", "-id")
    if event:
        events = events.filter(event=event)
    if user_id is not None:
        events = events.filter(user_id=user_id)
    return events
