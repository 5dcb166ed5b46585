"""FastAPI dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.context import Context
from identity.sessions import SESSION_COOKIE, Principal
from infra.errors import Unauthenticated


def get_context(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


def get_session(ctx: Annotated[Context, Depends(get_context)]) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with ctx.transaction() as session:
        yield session


Ctx = Annotated[Context, Depends(get_context)]
Db = Annotated[Session, Depends(get_session)]


def current_principal(request: Request) -> Principal | None:
    """The logged-in principal of this request's session cookie, or None."""
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    ctx: Context = request.app.state.ctx
    return ctx.login_sessions.get(sid)


def require_principal(
    principal: Annotated[Principal | None, Depends(current_principal)],
) -> Principal:
    """Like ``current_principal``, but a request without a live session gets a 401."""
    if principal is None:
        raise Unauthenticated("log in first (no live session)")
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(current_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def bearer_token(request: Request) -> str | None:
    """The ``Authorization: Bearer`` token of this request (RFC 6750 §2.1), or None.

    Another scheme, or the scheme without a token, is a failed authentication rather
    than an anonymous request: a client that sent credentials expects them to count.
    """
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    return value.strip()
