"""Request-body caps enforced while the body streams in, per path prefix.

A route that checks ``Content-Length`` is bypassed by a chunked upload: without a
declared length the multipart parser spools the whole body to disk before the route
sees its size. This middleware counts the bytes as they arrive and stops the request
with a 413 problem as soon as the cap is passed, whether or not a length was declared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.context import Context
from api.problems import problem
from api.routes.validation import ValidationRequestTooLarge
from infra.errors import ElocalError, PayloadTooLarge
from signing import DocumentTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Room for the multipart envelope and form fields around a signing document (the same
#: allowance the signing routes grant in their ``Content-Length`` check).
SIGNING_OVERHEAD = 64 * 1024
#: Room around a registry entry's attachments (as the registry routes allow).
REGISTRY_OVERHEAD = 1024 * 1024


@dataclass(frozen=True)
class BodyLimit:
    """The largest body accepted under ``prefix`` and the problem sent beyond it."""

    prefix: str
    #: (cap in bytes including overhead, the limit to report) — read per request, so that
    #: a settings change applies without a restart.
    sizes: Callable[[], tuple[int, int]]
    error: Callable[[int], ElocalError]


def default_limits(ctx: Context) -> list[BodyLimit]:
    """The caps for the upload endpoints: signing, validation and registry entries."""

    def signing() -> tuple[int, int]:
        limit = ctx.settings.max_document_bytes
        return limit + SIGNING_OVERHEAD, limit

    def validation() -> tuple[int, int]:
        # A signed document and its detached content may each reach the document limit.
        limit = ctx.settings.max_document_bytes
        return 2 * limit + SIGNING_OVERHEAD, limit

    def registry() -> tuple[int, int]:
        limit = ctx.registry.limits.max_entry_bytes
        return limit + REGISTRY_OVERHEAD, limit

    return [
        BodyLimit("/signing/", signing, lambda limit: DocumentTooLarge(
            f"the request body exceeds the document limit of {limit} bytes", limit=limit)),
        BodyLimit("/validation", validation, lambda limit: ValidationRequestTooLarge(
            f"the request body exceeds twice the document limit of {limit} bytes",
            limit=limit)),
        BodyLimit("/registry/", registry, lambda limit: PayloadTooLarge(
            f"the request exceeds the per-entry limit of {limit} bytes", limit=limit)),
    ]


class _BodyTooLarge(Exception):
    """Raised from ``receive`` to unwind the app once the cap is passed."""

    def __init__(self, error: ElocalError) -> None:
        super().__init__(error.detail)
        self.error = error


class RequestBodyLimit:
    """ASGI middleware: cap request bodies by path prefix while they stream."""

    def __init__(self, app: ASGIApp, limits: Sequence[BodyLimit]) -> None:
        self.app = app
        self.limits = tuple(limits)

    def _rule(self, path: str) -> BodyLimit | None:
        return next((r for r in self.limits if path.startswith(r.prefix)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._rule(scope.get("path", "")) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        cap, limit = rule.sizes()
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _send_problem(rule.error(limit), scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise _BodyTooLarge(rule.error(limit))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge as exc:
            if started:
                raise
            await _send_problem(exc.error, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _send_problem(error: ElocalError, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(error.status, error.code, error.title, error.detail, **error.extra)
    # The rest of the body is not read: the connection is closed after the answer.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
