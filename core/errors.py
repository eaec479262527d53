"""The application's errors: what went wrong, in the domain's words, with no HTTP in them.

Services, selectors and the token check raise these; `core.envelope` is the one place that maps
each to a status and the SPEC's body, forms adapt them with `form.add_error` and commands with
`CommandError`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "NUL_MESSAGE",
    "AppError",
    "Conflict",
    "FieldError",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
    "PermissionDenied",
    "Throttled",
]

FieldError = dict[str, str]  # {"field": ..., "message": ...}

# Django's own wording (ProhibitNullCharactersValidator), so forms and the API say the same.
NUL_MESSAGE = "Null characters are not allowed."


class AppError(Exception):
    """Base of the family. `code` is the machine-readable reason, `detail` the human text."""

    code = "error"
    detail = "Error"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        self.detail = detail or type(self).detail
        self.code = code or type(self).code
        super().__init__(self.detail)


class InvalidInput(AppError):
    """The input is wrong; `errors` names each field at fault."""

    code = "invalid"
    detail = "Invalid input"

    def __init__(
        self, errors: Iterable[FieldError], detail: str | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(detail, code=code)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "; ".join(f"{e['field']}: {e['message']}" for e in self.errors) or self.detail

    @classmethod
    def field(cls, field: str, message: str) -> InvalidInput:
        return cls([{"field": field, "message": message}])


class NotAuthenticated(AppError):
    code = "not_authenticated"
    detail = "Authentication credentials were not provided or are invalid"


class PermissionDenied(AppError):
    code = "permission_denied"
    detail = "You do not have permission to do this"


class NotFound(AppError):
    code = "not_found"
    detail = "Not found"


class Conflict(AppError):
    """The request is valid but collides with the current state (raced, already done)."""

    code = "conflict"
    detail = "Conflict"


class Throttled(AppError):
    code = "too_many_attempts"
    detail = "Too many attempts; try again later"

    def __init__(
        self, retry_after: int, detail: str | None = None, *, code: str | None = None
    ) -> None:
        super().__init__(detail, code=code)
        self.retry_after = max(1, int(retry_after))
