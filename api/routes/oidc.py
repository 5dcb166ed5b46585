"""OpenID Connect endpoints: discovery, JWKS, authorization, consent, token, userinfo,
introspection, revocation and RP-initiated logout.

The routes only translate HTTP to ``identity.oidc.Provider`` and back. OAuth errors
leave in the protocol's own shapes (RFC 6749 §5.2 JSON, RFC 6750 ``WWW-Authenticate``,
redirects with ``error=``), not as problem documents, because relying parties parse them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from cryptography import x509
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.context import Context
from api.deps import Ctx
from certs.pathvalidation import MalformedCertificate
from identity.clientcert import (
    certificate_from_header,
    certificates_from_tls_scope,
    is_trusted_proxy,
)
from identity.oidc import (
    INTERACTION_COOKIE,
    BrowserBinding,
    ClientCredentials,
    ConsentPage,
    ErrorPage,
    LogoutDone,
    LogoutPage,
    OAuthError,
    Redirect,
    pages,
)
from identity.oidc.errors import InvalidClient, InvalidRequest, InvalidToken
from identity.sessions import SESSION_COOKIE, Principal
from infra.tenancy import Municipality

router = APIRouter(tags=["oidc"])

#: Largest form body accepted on the back-channel endpoints.
MAX_FORM_BYTES = 64 * 1024
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # No form-action: browsers apply it to the redirect that follows the consent form,
    # and that redirect goes to the client's (other-origin) redirect URI.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# ----------------------------------------------------------------------- plumbing


def _session(request: Request, ctx: Context) -> tuple[Principal | None, str | None]:
    sid = request.cookies.get(SESSION_COOKIE)
    principal = ctx.login_sessions.get(sid) if sid else None
    return principal, (sid if principal is not None else None)


def client_certificate(request: Request, ctx: Context) -> x509.Certificate | None:
    """The TLS client certificate, or a trusted proxy's forwarded one (RFC 8705)."""
    try:
        certs = certificates_from_tls_scope(request.scope)
        if not certs:
            peer = request.client.host if request.client else None
            header = request.headers.get(ctx.settings.client_cert_header)
            if header and is_trusted_proxy(peer, ctx.settings.proxy_networks):
                certs = certificate_from_header(header)
    except MalformedCertificate:
        return None
    return certs[0] if certs else None


def _single(items: list[tuple[str, Any]]) -> dict[str, str]:
    """OAuth parameters must not repeat (RFC 6749 §3.1); files are never parameters."""
    out: dict[str, str] = {}
    for key, value in items:
        if not isinstance(value, str):
            raise InvalidRequest(f"{key} must be a plain form field")
        if key in out:
            raise InvalidRequest(f"the parameter {key} is repeated")
        if "\x00" in key or "\x00" in value:
            raise InvalidRequest("parameters must not contain NUL characters")
        out[key] = value
    return out


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("the body must be application/x-www-form-urlencoded")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise InvalidRequest("the request body is too large")
    # Read at most the limit, so that a chunked body without Content-Length is cut off
    # as it streams rather than buffered whole.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge("the request body is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the request body is not a valid form") from None
    return _single(pairs)


class FormTooLarge(InvalidRequest):
    """A form body over the limit: the rest of it is never read."""


def _oauth_error(exc: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if isinstance(exc, FormTooLarge):
        # Closing the connection is what stops the client's upload; keeping it open
        # would make the server drain the unread body.
        headers["Connection"] = "close"
    if isinstance(exc, InvalidClient):
        headers["WWW-Authenticate"] = 'Basic realm="elocal"'
    return JSONResponse({"error": exc.code, "error_description": exc.detail},
                        status_code=exc.status, headers=headers)


def _bearer_error(exc: OAuthError) -> JSONResponse:
    status = exc.status if exc.status in (401, 403) else 400
    header = f'Bearer realm="elocal", error="{exc.code}"'
    if isinstance(exc, InvalidRequest):
        header = 'Bearer realm="elocal"'
    return JSONResponse({"error": exc.code, "error_description": exc.detail},
                        status_code=status, headers={**_NO_STORE, "WWW-Authenticate": header})


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _secure_cookies(request: Request, ctx: Context) -> bool:
    return (request.url.scheme == "https"
            or ctx.settings.public_url.startswith("https://"))


def _bind(response: Response, binding: BrowserBinding | None, request: Request,
          ctx: Context) -> Response:
    """Give the browser the secret that lets it, and only it, resume its sign-in request.

    SameSite=Lax still sends it on the top-level redirect back from login.
    """
    if binding is not None:
        response.set_cookie(INTERACTION_COOKIE, binding.secret,
                            max_age=ctx.oidc.config.interaction_ttl, path=binding.cookie_path,
                            httponly=True, samesite="lax",
                            secure=_secure_cookies(request, ctx))
    return response


def _render(outcome: ErrorPage | Redirect | ConsentPage, ctx: Context,
            request: Request) -> Response:
    if isinstance(outcome, Redirect):
        return _bind(RedirectResponse(outcome.url, status_code=303, headers=_NO_STORE),
                     outcome.binding, request, ctx)
    if isinstance(outcome, ErrorPage):
        return _page(pages.error_page(outcome.error, outcome.description), outcome.status)
    with ctx.transaction() as s:
        muni = s.get(Municipality, outcome.municipality_code)
        muni_name = muni.name if muni is not None else outcome.municipality_code
    return _bind(_page(pages.consent_page(
        interaction_id=outcome.interaction_id, csrf=outcome.csrf,
        client_name=outcome.client_name, municipality_name=muni_name, scopes=outcome.scopes)),
        outcome.binding, request, ctx)


def _end_session(request: Request, ctx: Context, done: LogoutDone) -> Response:
    response: Response = (
        RedirectResponse(done.redirect, status_code=303, headers=_NO_STORE) if done.redirect
        else _page(pages.logged_out_page())
    )
    if done.ended:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                               secure=_secure_cookies(request, ctx))
    return response


# ---------------------------------------------------------------------- discovery


@router.get("/.well-known/openid-configuration")
def discovery(ctx: Ctx) -> JSONResponse:
    """OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414)."""
    return JSONResponse(ctx.oidc.discovery(), headers={"Cache-Control": "max-age=300"})


@router.get("/oidc/jwks")
def jwks(ctx: Ctx) -> JSONResponse:
    """Public signing keys: the active ones and retired ones whose tokens may still live."""
    return JSONResponse(ctx.oidc.jwks(), media_type="application/jwk-set+json",
                        headers={"Cache-Control": "max-age=60"})


# ------------------------------------------------------------------ authorization


@router.api_route("/oidc/authorize", methods=["GET", "POST"])
async def authorize(request: Request, ctx: Ctx) -> Response:
    """The authorization endpoint (code flow; GET query or POST form)."""
    try:
        params = (_single(list(request.query_params.multi_items())) if request.method == "GET"
                  else await _form(request))
    except InvalidRequest as exc:
        return _page(pages.error_page(exc.code, exc.detail), 400)
    principal, sid = await run_in_threadpool(_session, request, ctx)
    outcome = await run_in_threadpool(ctx.oidc.authorize, params, principal, sid)
    return await run_in_threadpool(_render, outcome, ctx, request)


@router.get("/oidc/interaction/{interaction_id}")
def interaction(interaction_id: str, request: Request, ctx: Ctx) -> Response:
    """Where login returns to: continues the authorization request (consent or code),
    for the browser that started it only."""
    principal, sid = _session(request, ctx)
    outcome = ctx.oidc.resume(interaction_id, principal, sid,
                              request.cookies.get(INTERACTION_COOKIE))
    return _render(outcome, ctx, request)


@router.post("/oidc/interaction/{interaction_id}/consent")
async def consent(interaction_id: str, request: Request, ctx: Ctx) -> Response:
    """The consent form's answer (CSRF-protected, bound to the session that saw it)."""
    try:
        form = await _form(request)
    except InvalidRequest as exc:
        return _page(pages.error_page(exc.code, exc.detail), 400)
    principal, sid = await run_in_threadpool(_session, request, ctx)
    outcome = await run_in_threadpool(
        ctx.oidc.consent, interaction_id, form.get("csrf", ""),
        form.get("decision") == "allow", principal, sid,
        request.cookies.get(INTERACTION_COOKIE))
    return await run_in_threadpool(_render, outcome, ctx, request)


# ------------------------------------------------------------------- back channel


async def _credentials(request: Request, ctx: Context) -> ClientCredentials:
    return ClientCredentials(authorization=request.headers.get("authorization"),
                             form=await _form(request),
                             certificate=client_certificate(request, ctx))


@router.post("/oidc/token")
async def token(request: Request, ctx: Ctx) -> JSONResponse:
    """The token endpoint: authorization_code (with PKCE) and refresh_token grants."""
    try:
        creds = await _credentials(request, ctx)
        result = await run_in_threadpool(ctx.oidc.token, creds)
    except OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(result, headers=_NO_STORE)


@router.api_route("/oidc/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request, ctx: Ctx) -> JSONResponse:
    """Claims about the person, for an access token in the header or (POST) the body."""
    try:
        header = request.headers.get("authorization")
        body_token = None
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            body_token = (await _form(request)).get("access_token")
        if header and body_token:
            raise InvalidRequest("send the access token once (header or body)")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise InvalidToken("expected a Bearer token")
            access_token = value.strip()
        elif body_token:
            access_token = body_token
        else:
            # RFC 6750 §3.1: a request without credentials gets the challenge, no error code.
            return JSONResponse({"error": "invalid_token", "error_description": "no access token"},
                                status_code=401,
                                headers={**_NO_STORE, "WWW-Authenticate": 'Bearer realm="elocal"'})
        cert = client_certificate(request, ctx)
        claims = await run_in_threadpool(ctx.oidc.userinfo, access_token, certificate=cert)
    except OAuthError as exc:
        return _bearer_error(exc)
    return JSONResponse(claims, headers=_NO_STORE)


@router.post("/oidc/introspect")
async def introspect(request: Request, ctx: Ctx) -> JSONResponse:
    """RFC 7662 token introspection, for authenticated clients only."""
    try:
        creds = await _credentials(request, ctx)
        result = await run_in_threadpool(ctx.oidc.introspect, creds)
    except OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(result, headers=_NO_STORE)


@router.post("/oidc/revoke")
async def revoke(request: Request, ctx: Ctx) -> Response:
    """RFC 7009 token revocation; answers 200 whether or not the token was known."""
    try:
        creds = await _credentials(request, ctx)
        await run_in_threadpool(ctx.oidc.revoke, creds)
    except OAuthError as exc:
        return _oauth_error(exc)
    return Response(status_code=200, headers=_NO_STORE)


# ------------------------------------------------------------------------ logout


@router.api_route("/oidc/logout", methods=["GET", "POST"])
async def logout(request: Request, ctx: Ctx) -> Response:
    """RP-initiated logout: ends the eLocal session and returns to a registered URI."""
    try:
        params: Mapping[str, str] = (
            _single(list(request.query_params.multi_items())) if request.method == "GET"
            else await _form(request))
    except InvalidRequest as exc:
        return _page(pages.error_page(exc.code, exc.detail), 400)
    principal, sid = await run_in_threadpool(_session, request, ctx)
    outcome = await run_in_threadpool(ctx.oidc.logout, params, principal, sid)
    if isinstance(outcome, ErrorPage):
        return _page(pages.error_page(outcome.error, outcome.description), outcome.status)
    if isinstance(outcome, LogoutPage):
        return _page(pages.logout_confirm_page(outcome.csrf or ""))
    return _end_session(request, ctx, outcome)


@router.post("/oidc/logout/confirm")
async def logout_confirm(request: Request, ctx: Ctx) -> Response:
    try:
        form = await _form(request)
    except InvalidRequest as exc:
        return _page(pages.error_page(exc.code, exc.detail), 400)
    _, sid = await run_in_threadpool(_session, request, ctx)
    outcome = await run_in_threadpool(ctx.oidc.confirm_logout, form.get("csrf", ""), sid)
    if isinstance(outcome, ErrorPage):
        return _page(pages.error_page(outcome.error, outcome.description), outcome.status)
    return _end_session(request, ctx, outcome)
