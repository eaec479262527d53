"""The request id carried into Celery tasks: a task enqueued while a request is served runs
with that request's id, so its log lines can be found from the request's; a task enqueued
outside a request (beat, a shell) runs with an id of its own, which the tasks it enqueues carry
on in turn.

The id travels in a message header (`before_task_publish`) and becomes current for the task's
run (`task_prerun`, reset in `task_postrun`). Connected by core.celery.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from core.observability.context import (
    current_request_id,
    new_request_id,
    request_id_from,
    reset_request_id,
    use_request_id,
)

__all__ = ["HEADER", "id_done", "id_for_task", "id_into_headers"]

HEADER = "request_id"

_tokens: dict[str, Token[str | None]] = {}


def id_into_headers(headers: dict[str, Any] | None) -> None:
    """before_task_publish: the current id into the message's headers."""
    if headers is None:
        return
    request_id = current_request_id()
    if request_id is not None:
        headers.setdefault(HEADER, request_id)


def _header_of(task: Any) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    # Celery puts a message's custom headers on the task request itself; older versions under
    # `headers`.
    found = getattr(request, HEADER, None)
    if found is None:
        found = (getattr(request, "headers", None) or {}).get(HEADER)
    return found if isinstance(found, str) else None


def id_for_task(task_id: str | None, task: Any) -> None:
    """task_prerun: the id the task was enqueued with (checked like an incoming header), the
    caller's own for an eager task, else a new one."""
    header = _header_of(task)
    if header is not None:
        request_id = request_id_from(header)
    elif getattr(getattr(task, "request", None), "is_eager", False) and current_request_id():
        return  # runs inside the caller: its id stays
    else:
        request_id = new_request_id()
    if task_id is not None:
        _tokens[task_id] = use_request_id(request_id)


def id_done(task_id: str | None) -> None:
    """task_postrun: back to the id before the task."""
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        try:
            reset_request_id(token)
        except ValueError:  # made in another context (a thread pool): nothing to restore
            use_request_id(None)
