"""Certificate login, the session cookie, ``/me`` and logout.

Three ways in, one validation path (``identity.login.CertificateLogin``):

- ``GET /login/certificate`` on the HTTPS listener: the client certificate of the
  TLS handshake (ASGI TLS extension), or, from a trusted proxy only, the certificate
  in ``settings.client_cert_header``;
- ``POST /login/challenge`` + ``POST /login/challenge/response``: a signed nonce,
  usable over plain HTTP (API clients, the CLI, tests of the OIDC provider).

The session cookie is ``httpOnly``, ``SameSite=Lax`` (so that an OpenID Connect
authorisation request arriving from a relying party's site still sees it) and
``Secure`` whenever the request came over HTTPS or ``public_url`` is HTTPS.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.context import Context
from api.deps import Ctx, CurrentPrincipal
from certs.pathvalidation import MalformedCertificate
from identity.challenge import (
    ALGORITHMS,
    NONCE_TTL_SECONDS,
    issue_challenge,
    login_origin,
    signed_message,
)
from identity.clientcert import (
    certificate_from_header,
    certificates_from_tls_scope,
    client_address,
    is_trusted_proxy,
)
from identity.login import AMR_MTLS, safe_next_url
from identity.sessions import ACR_BY_LOA, SESSION_COOKIE, Principal

router = APIRouter(tags=["identity"])


def principal_view(p: Principal) -> dict[str, Any]:
    return {
        "subject": p.subject,
        "capacity": p.capacity,
        "identity": p.identity,
        "loa": p.loa,
        "acr": ACR_BY_LOA.get(p.loa),
        "roles": list(p.roles),
        "municipality": p.municipality_code,
        "amr": list(p.amr),
        "auth_time": p.auth_time,
    }


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


def _client(request: Request, ctx: Context) -> str:
    return client_address(
        _peer(request), request.headers.get("x-forwarded-for"), ctx.settings.proxy_networks
    )


def _own_ca_prefixes(ctx: Context) -> tuple[str, ...]:
    """Where CA certificates may be fetched from to complete a login path.

    Only eLocal's own CA endpoints (the development PKI publishes its issuing CA
    there); any other intermediate must be in the municipality's trust store or
    sent by the client.
    """
    return (ctx.settings.public_url.rstrip("/") + "/pki/ca/",)


def _secure(request: Request, ctx: Context) -> bool:
    return request.url.scheme == "https" or ctx.settings.public_url.startswith("https://")


def _open_session(
    request: Request, ctx: Context, principal: Principal, next_url: str | None
) -> Response:
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # a login always gets a fresh id (no session fixation)
        ctx.login_sessions.close(old)
    sid = ctx.login_sessions.open(principal)
    response: Response = (
        RedirectResponse(next_url, status_code=303)
        if next_url
        else JSONResponse(principal_view(principal))
    )
    response.set_cookie(
        SESSION_COOKIE, sid, httponly=True, secure=_secure(request, ctx), samesite="lax", path="/"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login/certificate")
async def login_certificate(
    request: Request,
    ctx: Ctx,
    municipality: str = Query(..., min_length=1, max_length=20),
    next: str | None = Query(None, max_length=2000),
) -> Response:
    """Log in with the TLS client certificate (or a trusted proxy's header)."""
    next_url = safe_next_url(next)
    login = ctx.certificate_login
    client = _client(request, ctx)
    login.throttle.check(client)
    certs = certificates_from_tls_scope(request.scope)
    if not certs and is_trusted_proxy(_peer(request), ctx.settings.proxy_networks):
        header = request.headers.get(ctx.settings.client_cert_header)
        if header:
            try:
                certs = certificate_from_header(header)
            except MalformedCertificate:
                login.failed(client)
                raise
    principal = await login.authenticate(
        ctx.transaction,
        municipality,
        certs[:1],
        amr=AMR_MTLS,
        client=client,
        aia_prefixes=_own_ca_prefixes(ctx),
    )
    return _open_session(request, ctx, principal, next_url)


class ChallengeOut(BaseModel):
    nonce: str
    expires_in: int
    #: This server's origin as it appears in the signed text (its ``public_url``).
    origin: str
    #: ``elocal-login-v1:<origin>:<municipality>:<nonce>`` when a municipality was
    #: asked for, e.g. for ``openssl dgst -sha256 -sign``. A client that knows which
    #: server it meant to reach builds this text itself instead of trusting it.
    message: str | None
    algorithms: list[str]


@router.post("/login/challenge")
def login_challenge(
    request: Request,
    ctx: Ctx,
    municipality: str | None = Query(None, pattern=r"^[A-Za-z0-9]{1,20}$"),
) -> ChallengeOut:
    """A single-use nonce for challenge–response login."""
    client = _client(request, ctx)
    ctx.certificate_login.throttle.check(client)
    ctx.certificate_login.throttle.challenge_issued(client)
    ch = issue_challenge(ctx.state, NONCE_TTL_SECONDS)
    origin = ctx.settings.public_url
    message = signed_message(origin, municipality, ch.nonce) if municipality else None
    return ChallengeOut(
        nonce=ch.nonce,
        expires_in=ch.expires_in,
        origin=login_origin(origin),
        message=message.decode("ascii") if message else None,
        algorithms=list(ALGORITHMS),
    )


class ChallengeResponseIn(BaseModel):
    municipality: str = Field(min_length=1, max_length=20)
    nonce: str = Field(min_length=1, max_length=128)
    #: base64 or base64url of the signature over ``message``.
    signature: str = Field(min_length=1, max_length=4096)
    #: The certificate: PEM (may hold the chain too) or base64 DER.
    certificate: str = Field(min_length=1, max_length=65536)
    #: Optional intermediates, PEM or base64 DER.
    chain: list[Annotated[str, Field(max_length=65536)]] = Field(default_factory=list, max_length=8)
    algorithm: str | None = Field(None, max_length=16)
    next: str | None = Field(None, max_length=2000)


@router.post("/login/challenge/response")
async def login_challenge_response(
    request: Request, ctx: Ctx, body: ChallengeResponseIn
) -> Response:
    """Answer a challenge with a signature and certificate; opens a session."""
    next_url = safe_next_url(body.next)
    principal = await ctx.certificate_login.authenticate_signature(
        ctx.transaction,
        body.municipality,
        body.nonce,
        body.signature,
        [body.certificate, *body.chain],
        origin=ctx.settings.public_url,
        algorithm=body.algorithm,
        client=_client(request, ctx),
        aia_prefixes=_own_ca_prefixes(ctx),
    )
    return _open_session(request, ctx, principal, next_url)


@router.get("/me")
def me(principal: CurrentPrincipal) -> JSONResponse:
    """Who is logged in: identity, capacity, level of assurance and roles."""
    return JSONResponse(principal_view(principal), headers={"Cache-Control": "no-store"})


@router.post("/logout", status_code=204)
def logout(request: Request, ctx: Ctx) -> Response:
    """End the session, and every other session of the same person, in every municipality."""
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        principal = ctx.login_sessions.get(sid)
        if principal is not None:
            ctx.login_sessions.close_everywhere(principal.subject)
        ctx.login_sessions.close(sid)
        ctx.oidc.end_session_grants(sid)
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=_secure(request, ctx), samesite="lax"
    )
    return response
