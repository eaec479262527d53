"""Log records with the current request id, as key=value lines or as JSON (LOG_FORMAT).

`RequestIdFilter` sits on the console handler (settings.LOGGING), so every record that reaches
it — ours, Django's, Celery's, a library's — carries `request_id` (`-` outside a request or
task). Both formatters write the same fields: `ts`, `level`, `logger`, `request_id`, then the
message. A record may carry `fields` (a dict, `extra={"fields": ...}`, as the request line
does): the key=value format writes them as `key=value` in place of the message, the JSON format
as keys of their own beside it.

The standard library's logging only: one formatter class each, no dependency.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from core.observability.context import current_request_id

__all__ = ["JsonFormatter", "KeyValueFormatter", "RequestIdFilter"]

_NO_ID = "-"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or _NO_ID
        return True


def _request_id(record: logging.LogRecord) -> str:
    # A handler without the filter (a test's) still formats.
    return getattr(record, "request_id", None) or current_request_id() or _NO_ID


_NEEDS_QUOTES = re.compile(r'[\s"=]')


def _kv_value(value: Any) -> str:
    if value is None:
        return _NO_ID
    text = str(value)
    if not text or _NEEDS_QUOTES.search(text):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=… logger=… request_id=… <message> [key=value …]`: the house format."""

    def __init__(self) -> None:
        super().__init__(
            "ts=%(asctime)s level=%(levelname)s logger=%(name)s request_id=%(request_id)s "
            "%(message)s"
        )

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = _request_id(record)
        fields = getattr(record, "fields", None)
        if not fields:
            return super().format(record)
        # The record is shared with any other handler: put its message back afterwards.
        saved = record.msg, record.args
        record.msg = " ".join(f"{k}={_kv_value(v)}" for k, v in fields.items())
        record.args = None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = saved


class JsonFormatter(logging.Formatter):
    """One JSON object per line; an exception's traceback under `exc_info`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": _request_id(record),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            data.update(fields)
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str)
