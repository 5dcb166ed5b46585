"""The base of every error eLocal reports to a client.

Each subclass names a stable, machine-readable ``code`` and the HTTP status that
fits it. The API turns any ``ElocalError`` into an RFC 9457 problem document, so a
domain package says *what* went wrong and never has to know about HTTP responses.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ElocalError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request could not be processed"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(ElocalError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(ElocalError):
    code = "conflict"
    status = 409
    title = "Conflict"


class InvalidInput(ElocalError):
    code = "invalid_input"
    status = 422
    title = "Invalid input"


class Forbidden(ElocalError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class Unauthenticated(ElocalError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class PayloadTooLarge(ElocalError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large"


class ServiceUnavailable(ElocalError):
    code = "service_unavailable"
    status = 503
    title = "A service eLocal depends on is unavailable"
