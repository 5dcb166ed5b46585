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
