"""The OpenID provider: authorization, consent, token, userinfo, introspection,
revocation and RP-initiated logout.

Everything short-lived lives in the state store, so that several workers share it
and expiry is automatic:

- ``oidc:ia:<id>``: an authorization request waiting for login or consent;
- ``oidc:code:<hash>``: an authorization code (single use, ``code_ttl``);
- ``oidc:code-used:<hash>``: the grant issued from a redeemed code, to revoke it on reuse;
- ``oidc:grant:<id>``: a grant (one code redemption and every refresh after it). Tokens
  are valid only while their grant exists, so deleting it revokes the whole family;
- ``oidc:grant-revoked:<id>``: a revoked grant, remembered for its whole possible lifetime,
  so that a grant revoked before it was even written (a code replayed mid-redemption)
  never comes alive;
- ``oidc:session-ended:<hash>``: a login session that logged out; grants without
  ``offline_access`` bound to it stop working;
- ``oidc:rt:<hash>`` / ``oidc:rt-used:<hash>``: refresh tokens and spent ones (reuse);
- ``oidc:at-revoked:<jti>``: access tokens revoked before they expire;
- ``oidc:assertion:<client>:<hash>``: client assertions already used (replay);
- ``oidc:logout:<hash>``: a logout waiting for the person's confirmation.

Codes, refresh tokens and session ids are stored only as hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.oidc import claims as claimlib
from identity.oidc import errors as E
from identity.oidc.authorization import (
    MAX_PARAM_LENGTH,
    PKCE_VALUE,
    PROMPTS,
    parse_authorization_request,
)
from identity.oidc.clientauth import (
    CLIENT_ASSERTION_ALGORITHMS,
    ClientAuthenticator,
    ClientCredentials,
    certificate_thumbprint,
)
from identity.oidc.clients import find_client
from identity.oidc.keys import SIGNING_ALGORITHMS, KeyRing
from identity.oidc.models import OidcConsent
from identity.oidc.tokens import ACCESS_TOKEN_TYP, ID_TOKEN_TYP, Signer, left_hash, new_jti
from identity.oidc.vault import Vault
from identity.sessions import Principal, SessionStore
from infra.state import StateStore


@dataclass(frozen=True)
class ProviderConfig:
    """Lifetimes (seconds) and limits of the provider."""

    code_ttl: int = 60
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    #: Absolute lifetime of a grant: refresh tokens rotate within it, never beyond.
    refresh_ttl: int = 14 * 24 * 3600
    interaction_ttl: int = 600
    #: How long a redeemed code is remembered, to revoke its tokens if it comes back.
    used_code_ttl: int = 3600
    #: Longest lifetime accepted on a client assertion (bounds the replay cache).
    max_assertion_lifetime: int = 600
    clock_skew: int = 30
    #: Where the browser logs in (see ``certificate_login_url``); ``municipality``,
    #: ``next`` and ``login_hint`` are appended.
    login_url: str = "/login/certificate"


# --------------------------------------------------------------------------- outcomes


#: Cookie that binds an interaction (a sign-in request) to the browser that started it.
INTERACTION_COOKIE = "elocal_oidc_ia"


@dataclass(frozen=True)
class BrowserBinding:
    """A secret the browser that sent the authorization request must show again.

    Without it an attacker could start a request under their own PKCE and have a
    logged-in victim open the resume link, receiving a code for the victim.
    """

    interaction_id: str
    secret: str

    @property
    def cookie_path(self) -> str:
        """The cookie goes only to this interaction's URLs, so parallel sign-ins in one
        browser do not overwrite each other's binding."""
        return f"/oidc/interaction/{self.interaction_id}"


@dataclass(frozen=True)
class Redirect:
    url: str
    binding: BrowserBinding | None = None


@dataclass(frozen=True)
class ErrorPage:
    """An error shown to the person; used when redirecting to the client is unsafe."""

    error: str
    description: str
    status: int = 400


@dataclass(frozen=True)
class ConsentPage:
    interaction_id: str
    csrf: str
    client_name: str
    municipality_code: str
    scopes: list[str]
    binding: BrowserBinding | None = None


@dataclass(frozen=True)
class LogoutPage:
    """A confirmation form (``csrf`` set) or the final "you are logged out" page."""

    csrf: str | None = None


@dataclass(frozen=True)
class LogoutDone:
    """Where to send the browser next; ``ended`` when its eLocal session was closed."""

    redirect: str | None
    ended: bool


Outcome = Redirect | ErrorPage | ConsentPage

_FOREIGN_BROWSER = ErrorPage(
    "invalid_request",
    "this sign-in request was started in another browser (or its cookie expired); "
    "go back to the application and start again", status=403)


@dataclass(frozen=True)
class ClientAccess:
    """A municipal application holding an access token, as a resource server sees it.

    ``person`` is who the application acts for (a token from the authorization-code
    flow); it is None when the application acts as itself (client_credentials).
    """

    client_id: str
    municipality_code: str
    scopes: tuple[str, ...]
    client_name: str = ""
    person: Principal | None = None


OFFLINE_ACCESS = "offline_access"


def _sid_claim(sid_hash: str) -> str:
    """The ``sid`` an ID token carries: derived one way from the session id's hash, so
    that it names the login session without revealing its cookie."""
    return _b64url(hashlib.sha256(b"oidc-sid\0" + sid_hash.encode()).digest())[:32]


def _now() -> int:
    return int(time.time())


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_query(url: str, params: Mapping[str, str | None]) -> str:
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class Provider:
    """One per process; stateless apart from the parsed keys (see ``KeyRing``)."""

    def __init__(
        self,
        *,
        issuer: str,
        state: StateStore,
        db: Callable[[], AbstractContextManager[Session]],
        sessions: SessionStore,
        vault: Vault,
        keys: KeyRing,
        config: ProviderConfig | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.state = state
        self.db = db
        self.sessions = sessions
        self.vault = vault
        self.keys = keys
        self.signer = Signer(keys)
        self.config = config or ProviderConfig()
        self.client_auth = ClientAuthenticator(
            db=db, state=state, issuer=self.issuer,
            clock_skew=self.config.clock_skew,
            max_assertion_lifetime=self.config.max_assertion_lifetime)

    # ------------------------------------------------------------------ metadata

    def url(self, path: str) -> str:
        return f"{self.issuer}/oidc/{path}"

    @property
    def token_endpoint(self) -> str:
        return self.url("token")

    def discovery(self) -> dict[str, Any]:
        auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt",
                        "tls_client_auth"]
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("authorize"),
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": self.url("userinfo"),
            "jwks_uri": self.url("jwks"),
            "introspection_endpoint": self.url("introspect"),
            "revocation_endpoint": self.url("revoke"),
            "end_session_endpoint": self.url("logout"),
            "scopes_supported": list(claimlib.SUPPORTED_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token",
                                      "client_credentials"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "token_endpoint_auth_methods_supported": [*auth_methods, "none"],
            "token_endpoint_auth_signing_alg_values_supported": list(
                CLIENT_ASSERTION_ALGORITHMS),
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_signing_alg_values_supported": list(
                CLIENT_ASSERTION_ALGORITHMS),
            "revocation_endpoint_auth_methods_supported": [*auth_methods, "none"],
            "revocation_endpoint_auth_signing_alg_values_supported": list(
                CLIENT_ASSERTION_ALGORITHMS),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(claimlib.CLAIMS_SUPPORTED),
            "claim_types_supported": ["normal"],
            "claims_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "require_request_uri_registration": True,
            "acr_values_supported": list(claimlib.LOA_ACR.values()),
            "prompt_values_supported": sorted(PROMPTS),
            "ui_locales_supported": ["es", "en"],
            "authorization_response_iss_parameter_supported": True,
            "tls_client_certificate_bound_access_tokens": True,
        }

    def jwks(self) -> dict[str, Any]:
        return self.keys.jwks()

    # ------------------------------------------------------------ authorization

    def authorize(self, params: Mapping[str, str], principal: Principal | None,
                  sid: str | None) -> Outcome:
        """Validate an authorization request and take it as far as it can go now."""
        # An empty parameter counts as absent (RFC 6749 §3.1).
        params = {k: v for k, v in params.items() if v != ""}
        for name, value in params.items():
            if len(value) > MAX_PARAM_LENGTH:
                # Before the client is known nothing may be redirected, so this is shown.
                return ErrorPage("invalid_request", f"the parameter {name} is too long")
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        with self.db() as s:
            client = find_client(s, client_id)
            if client is None:
                return ErrorPage("invalid_client", "unknown client_id")
            if not redirect_uri:
                return ErrorPage("invalid_request", "redirect_uri is required")
            if redirect_uri not in client.redirect_uris:
                return ErrorPage("invalid_request",
                                 "redirect_uri is not registered for this client")
            snapshot = client.public()
        state = params.get("state")
        try:
            request = parse_authorization_request(params, snapshot)
        except E.OAuthError as exc:
            return Redirect(self._error_redirect(redirect_uri, exc, state))
        binding = BrowserBinding(secrets.token_urlsafe(24), secrets.token_urlsafe(32))
        interaction = {
            "id": binding.interaction_id,
            "request": request,
            "client": snapshot,
            "created": _now(),
            "browser": _hash(binding.secret),
        }
        self._save_interaction(interaction)
        outcome = self._proceed(interaction, principal, sid)
        # While the request waits for login or consent, only this browser may take it on.
        if isinstance(outcome, ConsentPage):
            return replace(outcome, binding=binding)
        if isinstance(outcome, Redirect) and outcome.url == self._login_url(interaction):
            return replace(outcome, binding=binding)
        return outcome

    def resume(self, interaction_id: str, principal: Principal | None,
               sid: str | None, browser_secret: str | None = None) -> Outcome:
        """Continue after the person logged in (the login ``next`` URL lands here)."""
        interaction = self._load_interaction(interaction_id)
        if interaction is None:
            return ErrorPage("invalid_request", "this sign-in request has expired; start again")
        if not self._same_browser(interaction, browser_secret):
            return _FOREIGN_BROWSER
        return self._proceed(interaction, principal, sid)

    def consent(self, interaction_id: str, csrf: str, approve: bool,
                principal: Principal | None, sid: str | None,
                browser_secret: str | None = None) -> Outcome:
        """The person's answer on the consent screen."""
        interaction = self._load_interaction(interaction_id)
        if interaction is None:
            return ErrorPage("invalid_request", "this sign-in request has expired; start again")
        if not self._same_browser(interaction, browser_secret):
            return _FOREIGN_BROWSER
        expected = interaction.get("csrf")
        if not expected or not csrf or not hmac.compare_digest(str(expected), csrf):
            return ErrorPage("invalid_request", "the form is stale or was not sent by eLocal",
                             status=403)
        if principal is None or sid is None or interaction.get("sid") != _hash(sid):
            return ErrorPage("login_required", "your session has ended; start again",
                             status=403)
        request = interaction["request"]
        client = interaction["client"]
        if not self.state.delete(self._ia_key(interaction_id)):
            return ErrorPage("invalid_request", "this sign-in request was already answered")
        if not approve:
            return Redirect(self._error_redirect(
                request["redirect_uri"], E.AccessDenied("the person declined"),
                request.get("state")))
        with self.db() as s:
            row = s.scalar(select(OidcConsent).where(
                OidcConsent.municipality_code == client["municipality_code"],
                OidcConsent.subject == principal.subject,
                OidcConsent.client_id == client["client_id"],
            ))
            if row is None:
                s.add(OidcConsent(municipality_code=client["municipality_code"],
                                  subject=principal.subject, client_id=client["client_id"],
                                  scopes=list(request["scopes"])))
            else:
                row.scopes = sorted(set(row.scopes) | set(request["scopes"]))
        return Redirect(self._issue_code(interaction, principal, sid))

    @staticmethod
    def _same_browser(interaction: Mapping[str, Any], browser_secret: str | None) -> bool:
        """Whether the request comes from the browser that sent the authorization request."""
        expected = interaction.get("browser")
        return bool(expected) and bool(browser_secret) and hmac.compare_digest(
            str(expected), _hash(str(browser_secret)))

    def _proceed(self, interaction: dict[str, Any], principal: Principal | None,
                 sid: str | None) -> Outcome:
        request = interaction["request"]
        client = interaction["client"]
        prompt = set(request["prompt"])
        now = _now()
        in_session = (principal is not None and sid is not None
                      and principal.municipality_code == client["municipality_code"])
        # A login completed during this very request satisfies prompt=login and max_age,
        # so that a slow clock or max_age=0 cannot send the person round in circles.
        fresh = in_session and principal is not None and (
            principal.auth_time >= interaction["created"])
        login_needed = not in_session or (not fresh and (
            "login" in prompt
            or (request["max_age"] is not None
                and now - principal.auth_time > request["max_age"])  # type: ignore[union-attr]
        ))
        if not login_needed and "none" in prompt and request["id_token_hint"]:
            assert principal is not None
            hinted = self._hint_subject(request["id_token_hint"])
            if hinted is None:
                return Redirect(self._error_redirect(
                    request["redirect_uri"], E.InvalidRequest("id_token_hint is not valid"),
                    request["state"]))
            login_needed = hinted != self.subject_for(principal.subject, client)
        hint = request.get("login_hint")
        if not login_needed and not fresh and hint:
            # The application expects someone else: the session of whoever is logged in
            # now is not silently reused for them.
            assert principal is not None
            login_needed = not self._matches_login_hint(str(hint), principal, client)
        if login_needed:
            if "none" in prompt:
                return Redirect(self._error_redirect(
                    request["redirect_uri"], E.LoginRequired("the person must log in"),
                    request["state"]))
            return Redirect(self._login_url(interaction))
        assert principal is not None and sid is not None
        essential = request["essential_acr"]
        if essential is not None and not claimlib.acr_satisfies(
            claimlib.acr_for(principal.loa), essential
        ):
            return self._unmet_acr(interaction, prompt, fresh=fresh)
        if self._needs_consent(principal, client, request["scopes"], prompt):
            if "none" in prompt:
                return Redirect(self._error_redirect(
                    request["redirect_uri"], E.ConsentRequired("the person must consent"),
                    request["state"]))
            interaction["csrf"] = secrets.token_urlsafe(24)
            interaction["sid"] = _hash(sid)
            self._save_interaction(interaction)
            return ConsentPage(interaction["id"], interaction["csrf"], client["name"],
                               client["municipality_code"], list(request["scopes"]))
        if not self.state.delete(self._ia_key(interaction["id"])):
            return ErrorPage("invalid_request", "this sign-in request was already answered")
        return Redirect(self._issue_code(interaction, principal, sid))

    def _unmet_acr(self, interaction: dict[str, Any], prompt: set[str], *,
                   fresh: bool) -> Outcome:
        """The session's certificate is below an essential ``acr``.

        The person may hold a stronger certificate, so they are sent to log in again,
        once; only a login made for this request that still falls short (or
        ``prompt=none``, where nobody can be asked) ends in an error.
        """
        request = interaction["request"]
        if "none" in prompt:
            return Redirect(self._error_redirect(
                request["redirect_uri"],
                E.LoginRequired("a login with a stronger certificate is required"),
                request["state"]))
        if not fresh and not interaction.get("acr_login"):
            interaction["acr_login"] = True
            self._save_interaction(interaction)
            return Redirect(self._login_url(interaction))
        self.state.delete(self._ia_key(interaction["id"]))
        return Redirect(self._error_redirect(
            request["redirect_uri"],
            E.UnmetAuthenticationRequirements(
                "the certificate used does not reach the requested level of assurance"),
            request["state"]))

    def _matches_login_hint(self, hint: str, principal: Principal,
                            client: Mapping[str, Any]) -> bool:
        """A login hint names the person by NIF/NIE or by the ``sub`` this client knows."""
        nif = hint.strip().upper().encode()
        sub = self.subject_for(principal.subject, client).encode()
        return (hmac.compare_digest(nif, principal.subject.upper().encode())
                or hmac.compare_digest(hint.encode(), sub))

    def _needs_consent(self, principal: Principal, client: Mapping[str, Any],
                       scopes: list[str], prompt: set[str]) -> bool:
        if "consent" in prompt:
            return True
        with self.db() as s:
            given = s.scalar(select(OidcConsent.scopes).where(
                OidcConsent.municipality_code == client["municipality_code"],
                OidcConsent.subject == principal.subject,
                OidcConsent.client_id == client["client_id"],
            ))
        return given is None or not set(scopes) <= set(given)

    def _login_url(self, interaction: Mapping[str, Any]) -> str:
        params = {
            "municipality": interaction["client"]["municipality_code"],
            "next": f"/oidc/interaction/{interaction['id']}",
            "login_hint": interaction["request"].get("login_hint"),
        }
        return _with_query(self.config.login_url, params)

    def _issue_code(self, interaction: Mapping[str, Any], principal: Principal,
                    sid: str) -> str:
        request = interaction["request"]
        code = secrets.token_urlsafe(32)
        record = {
            "client_id": request["client_id"],
            "redirect_uri": request["redirect_uri"],
            "scopes": request["scopes"],
            "nonce": request["nonce"],
            "code_challenge": request["code_challenge"],
            "principal": principal.to_json(),
            "sid": _hash(sid),
            "grant_id": secrets.token_urlsafe(18),
            "exp": _now() + self.config.code_ttl,
        }
        self.state.put(f"oidc:code:{_hash(code)}", json.dumps(record).encode(),
                       self.config.code_ttl)
        return _with_query(request["redirect_uri"], {
            "code": code, "state": request["state"], "iss": self.issuer})

    def _error_redirect(self, redirect_uri: str, exc: E.OAuthError, state: str | None) -> str:
        return _with_query(redirect_uri, {
            "error": exc.code, "error_description": exc.detail, "state": state,
            "iss": self.issuer})

    def _ia_key(self, interaction_id: str) -> str:
        return f"oidc:ia:{_hash(interaction_id)}"

    def _save_interaction(self, interaction: Mapping[str, Any]) -> None:
        remaining = interaction["created"] + self.config.interaction_ttl - _now()
        self.state.put(self._ia_key(interaction["id"]), json.dumps(interaction).encode(),
                       max(1, remaining))

    def _load_interaction(self, interaction_id: str) -> dict[str, Any] | None:
        if not interaction_id or len(interaction_id) > 64:
            return None
        raw = self.state.get(self._ia_key(interaction_id))
        return None if raw is None else dict(json.loads(raw))

    def _hint_subject(self, id_token_hint: str) -> str | None:
        """The ``sub`` of an ID token eLocal issued (expired ones too), else None."""
        try:
            _, hint = self.signer.verify(id_token_hint, typ=ID_TOKEN_TYP, issuer=self.issuer,
                                         check_exp=False)
        except E.InvalidToken:
            return None
        sub = hint.get("sub")
        return sub if isinstance(sub, str) else None

    # ----------------------------------------------------------------- subjects

    def subject_for(self, subject: str, client: Mapping[str, Any]) -> str:
        """Always pairwise per municipality, whatever an older registration says: one
        identifier across town halls would let them link a person without ``nif``."""
        return claimlib.pairwise_subject(client["municipality_code"], subject,
                                         self.vault.pairwise_salt)

    def authenticate_client(self, creds: ClientCredentials, *, allow_public: bool,
                            endpoint: str) -> dict[str, Any]:
        """The calling client; ``endpoint`` (token, introspect, revoke) is the one called."""
        return self.client_auth.authenticate(creds, allow_public=allow_public,
                                             endpoint=self.url(endpoint))

    # ------------------------------------------------------------------- tokens

    def token(self, creds: ClientCredentials) -> dict[str, Any]:
        client = self.authenticate_client(creds, allow_public=True, endpoint="token")
        grant_type = creds.form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._redeem_code(client, creds.form)
        if grant_type == "refresh_token":
            return self._refresh(client, creds.form)
        if grant_type == "client_credentials":
            return self._client_credentials(client, creds.form)
        if not grant_type:
            raise E.InvalidRequest("grant_type is required")
        raise E.UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")

    def _redeem_code(self, client: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
        code = form.get("code", "")
        if not code or len(code) > 256:
            raise E.InvalidRequest("code is required")
        key = _hash(code)
        raw = self.state.get(f"oidc:code:{key}")
        if raw is None:
            spent = self.state.get(f"oidc:code-used:{key}")
            if spent is not None:
                self.revoke_grant(spent.decode())
                raise E.InvalidGrant("the code was already used; its tokens are revoked")
            raise E.InvalidGrant("the code is unknown or expired")
        record = json.loads(raw)
        grant_id = record["grant_id"]
        # add() is the single-use gate: of two concurrent redemptions exactly one wins,
        # and the loser revokes what the winner got.
        if not self.state.add(f"oidc:code-used:{key}", grant_id.encode(),
                              self.config.used_code_ttl):
            self.revoke_grant(grant_id)
            raise E.InvalidGrant("the code was already used; its tokens are revoked")
        self.state.delete(f"oidc:code:{key}")
        if record["exp"] <= _now():
            raise E.InvalidGrant("the code has expired")
        if record["client_id"] != client["client_id"]:
            raise E.InvalidGrant("the code was issued to another client")
        if form.get("redirect_uri") != record["redirect_uri"]:
            raise E.InvalidGrant("redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier")
        challenge = record["code_challenge"]
        if challenge is not None:
            if not verifier or not PKCE_VALUE.fullmatch(verifier):
                raise E.InvalidGrant("code_verifier is missing or malformed")
            computed = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
            if not hmac.compare_digest(computed, challenge):
                raise E.InvalidGrant("code_verifier does not match the code_challenge")
        elif verifier is not None:
            raise E.InvalidGrant("code_verifier sent but no code_challenge was used")
        principal = record["principal"]
        grant = {
            "id": grant_id,
            "client_id": client["client_id"],
            "municipality_code": client["municipality_code"],
            "sub": self.subject_for(principal["subject"], client),
            "subject": principal["subject"],
            "identity": principal["identity"],
            "capacity": principal["capacity"],
            "loa": principal["loa"],
            "amr": principal["amr"],
            "auth_time": principal["auth_time"],
            "scopes": record["scopes"],
            "sid": record["sid"],
            "expires": _now() + self._grant_ttl(record["scopes"]),
        }
        self.state.put(f"oidc:grant:{grant_id}", json.dumps(grant).encode(),
                       self._grant_ttl(record["scopes"]))
        if self._grant_revoked(grant_id):
            # A replay of the code got in between claiming it and writing the grant.
            self.state.delete(f"oidc:grant:{grant_id}")
            raise E.InvalidGrant("the code was already used; its tokens are revoked")
        return self._issue_tokens(grant, client, nonce=record["nonce"])

    def _refresh(self, client: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        if not token or len(token) > 256:
            raise E.InvalidRequest("refresh_token is required")
        key = _hash(token)
        raw = self.state.get(f"oidc:rt:{key}")
        if raw is None:
            spent = self.state.get(f"oidc:rt-used:{key}")
            if spent is not None:
                self.revoke_grant(spent.decode())
                raise E.InvalidGrant("the refresh token was already used; the grant is revoked")
            raise E.InvalidGrant("the refresh token is unknown, expired or revoked")
        record = json.loads(raw)
        grant_id = record["grant_id"]
        grant = self._live_grant(grant_id)
        if grant is None:
            raise E.InvalidGrant("the refresh token was revoked")
        remaining = max(1, grant["expires"] - _now())
        if not self.state.add(f"oidc:rt-used:{key}", grant_id.encode(), remaining):
            self.revoke_grant(grant_id)
            raise E.InvalidGrant("the refresh token was already used; the grant is revoked")
        self.state.delete(f"oidc:rt:{key}")
        if grant["client_id"] != client["client_id"]:
            # Another client holding this token means it leaked: end the family.
            self.revoke_grant(grant_id)
            raise E.InvalidGrant("the refresh token was issued to another client")
        if form.get("scope"):
            narrowed = form["scope"].split()
            if not set(narrowed) <= set(grant["scopes"]):
                raise E.InvalidScope("a refresh cannot widen the scope")
        return self._issue_tokens(grant, client, nonce=None,
                                  scopes=form["scope"].split() if form.get("scope") else None)

    def _issue_tokens(self, grant: Mapping[str, Any], client: Mapping[str, Any], *,
                      nonce: str | None, scopes: list[str] | None = None) -> dict[str, Any]:
        now = _now()
        scopes = scopes or list(grant["scopes"])
        acr = claimlib.acr_for(grant["loa"])
        alg = client.get("id_token_signed_response_alg", "RS256")
        access_claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant["sub"],
            "aud": self.issuer,
            "client_id": client["client_id"],
            "iat": now,
            "exp": now + self.config.access_token_ttl,
            "jti": new_jti(),
            "scope": " ".join(scopes),
            "auth_time": grant["auth_time"],
            "acr": acr,
            "amr": list(grant["amr"]),
            "gid": grant["id"],
        }
        if client.get("cnf"):
            access_claims["cnf"] = client["cnf"]
        access_token = self.signer.sign(access_claims, alg, ACCESS_TOKEN_TYP)
        id_claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant["sub"],
            "aud": client["client_id"],
            "azp": client["client_id"],
            "iat": now,
            "exp": now + self.config.id_token_ttl,
            "auth_time": grant["auth_time"],
            "acr": acr,
            "amr": list(grant["amr"]),
            "at_hash": left_hash(access_token, alg),
            **claimlib.released_claims(grant["identity"], scopes, grant.get("capacity")),
        }
        if grant.get("sid"):
            id_claims["sid"] = _sid_claim(str(grant["sid"]))
        if nonce:
            id_claims["nonce"] = nonce
        result: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.config.access_token_ttl,
            "id_token": self.signer.sign(id_claims, alg, ID_TOKEN_TYP),
            "scope": " ".join(scopes),
        }
        if OFFLINE_ACCESS in grant["scopes"]:
            # Only a person who consented to offline_access lets the application keep
            # access after the access token expires (OIDC Core §11).
            refresh_token = secrets.token_urlsafe(32)
            remaining = max(1, grant["expires"] - now)
            self.state.put(f"oidc:rt:{_hash(refresh_token)}",
                           json.dumps({"grant_id": grant["id"]}).encode(), remaining)
            result["refresh_token"] = refresh_token
        return result

    def _client_credentials(self, client: Mapping[str, Any],
                            form: Mapping[str, str]) -> dict[str, Any]:
        """RFC 6749 §4.4: an application acting as itself, for the service scopes only.

        Only confidential clients qualify (a public client proves nothing about who it
        is). No refresh token and no ID token: there is no person, and the client can
        simply authenticate again. The access token's ``sub`` is the client id (RFC 9068
        §2.2). Its grant lives exactly as long as the token, so revoking the grant or
        removing the client ends it like any other.
        """
        if client["client_type"] != "confidential":
            raise E.UnauthorizedClient("only confidential clients may use client_credentials")
        allowed = [s for s in client["allowed_scopes"] if s in claimlib.SERVICE_SCOPES]
        requested = form.get("scope")
        if requested is None or not requested.strip():
            scopes = allowed
        else:
            scopes = list(dict.fromkeys(requested.split()))
            if not set(scopes) <= set(allowed):
                raise E.InvalidScope("the client may request only "
                                     f"{' '.join(allowed) or 'no scope'} with client_credentials")
        if not scopes:
            raise E.InvalidScope("the client is not registered for any client_credentials scope")
        now = _now()
        ttl = self.config.access_token_ttl
        grant = {
            "id": secrets.token_urlsafe(18),
            "kind": "client_credentials",
            "client_id": client["client_id"],
            "municipality_code": client["municipality_code"],
            "sub": client["client_id"],
            "scopes": scopes,
            "expires": now + ttl,
        }
        self.state.put(f"oidc:grant:{grant['id']}", json.dumps(grant).encode(), ttl)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client["client_id"],
            "aud": self.issuer,
            "client_id": client["client_id"],
            "iat": now,
            "exp": now + ttl,
            "jti": new_jti(),
            "scope": " ".join(scopes),
            "gid": grant["id"],
        }
        if client.get("cnf"):
            claims["cnf"] = client["cnf"]
        alg = client.get("id_token_signed_response_alg", "RS256")
        return {
            "access_token": self.signer.sign(claims, alg, ACCESS_TOKEN_TYP),
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scopes),
        }

    def _grant(self, grant_id: str) -> dict[str, Any] | None:
        raw = self.state.get(f"oidc:grant:{grant_id}")
        return None if raw is None else dict(json.loads(raw))

    def _grant_ttl(self, scopes: list[str]) -> int:
        """A grant without offline_access lives no longer than its one access token."""
        if OFFLINE_ACCESS in scopes:
            return self.config.refresh_ttl
        return self.config.access_token_ttl

    def _grant_revoked(self, grant_id: str) -> bool:
        return self.state.get(f"oidc:grant-revoked:{grant_id}") is not None

    def _live_grant(self, grant_id: str) -> dict[str, Any] | None:
        """The grant if it exists, was not revoked and (without offline_access) its login
        session has not logged out."""
        grant = self._grant(grant_id)
        if grant is None or self._grant_revoked(grant_id):
            return None
        if (grant.get("kind") != "client_credentials"
                and OFFLINE_ACCESS not in grant.get("scopes", ())
                and grant.get("sid")
                and self.state.get(f"oidc:session-ended:{grant['sid']}") is not None):
            return None
        return grant

    def revoke_grant(self, grant_id: str) -> None:
        """End a grant: its access tokens and every refresh token of the family stop working.

        The mark outlives any grant, so that a grant written after its revocation (a code
        redemption racing with a replay of that code) is dead on arrival.
        """
        self.state.put(f"oidc:grant-revoked:{grant_id}", b"1",
                       max(self.config.refresh_ttl, self.config.access_token_ttl))
        self.state.delete(f"oidc:grant:{grant_id}")

    def end_session_grants(self, sid: str) -> None:
        """A login session logged out: the grants it gave without offline_access end too.

        Grants with offline_access were given precisely to outlive the session.
        """
        self.state.put(f"oidc:session-ended:{_hash(sid)}", b"1",
                       max(self.config.refresh_ttl, self.config.access_token_ttl))

    # ------------------------------------------------------ access-token checks

    def check_access_token(self, token: str, *, certificate: x509.Certificate | None = None,
                           enforce_binding: bool = True) -> dict[str, Any]:
        """Claims of a live access token, or ``InvalidToken``.

        With ``enforce_binding`` a certificate-bound token (RFC 8705) is accepted only with
        the certificate it is bound to; introspection leaves that check to the resource
        server, which gets ``cnf`` back.
        """
        _, claims = self.signer.verify(token, typ=ACCESS_TOKEN_TYP, issuer=self.issuer,
                                       audience=self.issuer)
        jti = claims.get("jti")
        if not isinstance(jti, str) or self.state.get(f"oidc:at-revoked:{_hash(jti)}"):
            raise E.InvalidToken("the access token was revoked")
        grant = self._live_grant(str(claims.get("gid", "")))
        if grant is None or grant["client_id"] != claims.get("client_id"):
            raise E.InvalidToken("the access token was revoked")
        with self.db() as s:
            client = find_client(s, grant["client_id"])
            if client is None:
                raise E.InvalidToken("the client no longer exists")
            client_name = client.name
        bound = (claims.get("cnf") or {}).get("x5t#S256")
        if enforce_binding and bound is not None and (
            certificate is None
            or not hmac.compare_digest(certificate_thumbprint(certificate), str(bound))
        ):
            raise E.InvalidToken("the access token is bound to another certificate")
        return {**claims, "_grant": grant, "_client_name": client_name}

    def access(self, token: str, *, certificate: x509.Certificate | None = None
               ) -> ClientAccess:
        """For resource servers: the application behind a live access token, and the
        person it acts for, if any.

        The token must verify with eLocal's own keys and algorithms, name this issuer as
        issuer and audience, be live (not expired, revoked or of a removed client) and
        honour its certificate binding; otherwise ``InvalidToken``. The resource server
        then decides by ``scopes`` and ``person``.
        """
        claims = self.check_access_token(token, certificate=certificate)
        grant = claims["_grant"]
        access = ClientAccess(client_id=str(grant["client_id"]),
                              municipality_code=str(grant["municipality_code"]),
                              scopes=tuple(str(claims.get("scope", "")).split()),
                              client_name=str(claims["_client_name"]))
        if grant.get("kind") == "client_credentials":
            return access
        identity = dict(grant.get("identity") or {})
        capacity = str(grant.get("capacity") or "citizen")
        if capacity not in ("citizen", "representative"):
            # A civil servant's token carries none of their office's powers: through an
            # application they act for themselves, never for their administration.
            capacity = "citizen"
            identity = {k: v for k, v in identity.items()
                        if k not in ("entity_cif", "entity_name")}
        person = Principal(
            subject=str(grant["subject"]), capacity=capacity, identity=identity,
            loa=str(grant.get("loa") or ""), roles=(),
            municipality_code=access.municipality_code,
            amr=tuple(grant.get("amr") or ()), auth_time=int(grant.get("auth_time") or 0),
        )
        return ClientAccess(**{**access.__dict__, "person": person})

    def client_access(self, token: str, *, scope: str,
                      certificate: x509.Certificate | None = None) -> ClientAccess:
        """For resource servers: the application behind a client_credentials access token.

        As ``access``, and the token must also come from the client_credentials grant
        and carry ``scope``; otherwise ``InsufficientScope``.
        """
        access = self.access(token, certificate=certificate)
        if access.person is not None or scope not in access.scopes:
            raise E.InsufficientScope(f"the access token does not grant {scope!r} to the "
                                      "application itself", required_scope=scope)
        return access

    def delegated_access(self, token: str, *, scope: str,
                         certificate: x509.Certificate | None = None) -> ClientAccess:
        """For resource servers: an application acting for a person who granted ``scope``.

        As ``access``; a client_credentials token, or one without ``scope``, raises
        ``InsufficientScope``. The person never carries roles: whatever a civil servant
        may do in a login session, an application does not inherit.
        """
        access = self.access(token, certificate=certificate)
        if access.person is None or scope not in access.scopes:
            raise E.InsufficientScope(f"the access token does not grant {scope!r} on a "
                                      "person's behalf", required_scope=scope)
        return access

    def userinfo(self, token: str, *, certificate: x509.Certificate | None = None
                 ) -> dict[str, Any]:
        claims = self.check_access_token(token, certificate=certificate)
        scopes = str(claims.get("scope", "")).split()
        if "openid" not in scopes:
            raise E.InsufficientScope("the access token lacks the openid scope")
        grant = claims["_grant"]
        return {"sub": claims["sub"],
                **claimlib.released_claims(grant["identity"], scopes, grant.get("capacity"))}

    def introspect(self, creds: ClientCredentials) -> dict[str, Any]:
        """RFC 7662, for the authenticated client the token was issued to."""
        caller = self.authenticate_client(creds, allow_public=False, endpoint="introspect")
        token = creds.form.get("token", "")
        if not token:
            raise E.InvalidRequest("token is required")
        inactive = {"active": False}
        if token.count(".") == 2:
            try:
                claims = self.check_access_token(token, enforce_binding=False)
            except E.InvalidToken:
                return inactive
            grant = claims.pop("_grant")
            if grant["client_id"] != caller["client_id"]:
                # A client learns nothing about tokens issued to other applications.
                return inactive
            return {"active": True, "token_type": "Bearer",
                    **{k: claims[k] for k in ("scope", "client_id", "sub", "exp", "iat", "iss",
                                              "aud", "jti", "auth_time", "acr") if k in claims},
                    **({"cnf": claims["cnf"]} if "cnf" in claims else {})}
        raw = self.state.get(f"oidc:rt:{_hash(token)}") if len(token) <= 256 else None
        if raw is None:
            return inactive
        grant = self._live_grant(json.loads(raw)["grant_id"])
        if grant is None or grant["client_id"] != caller["client_id"]:
            return inactive
        return {"active": True, "token_type": "refresh_token", "client_id": grant["client_id"],
                "sub": grant["sub"], "scope": " ".join(grant["scopes"]),
                "exp": grant["expires"], "iss": self.issuer}

    def revoke(self, creds: ClientCredentials) -> None:
        """RFC 7009: revoke a refresh token (its whole grant) or one access token.

        Tokens of other clients, unknown and invalid tokens are silently ignored, as the
        RFC requires, so that the endpoint reveals nothing.
        """
        caller = self.authenticate_client(creds, allow_public=True, endpoint="revoke")
        token = creds.form.get("token", "")
        if not token:
            raise E.InvalidRequest("token is required")
        if token.count(".") == 2:
            try:
                _, claims = self.signer.verify(token, typ=ACCESS_TOKEN_TYP, issuer=self.issuer)
            except E.InvalidToken:
                return
            if claims.get("client_id") != caller["client_id"]:
                return
            ttl = max(1, int(claims["exp"]) - _now())
            self.state.put(f"oidc:at-revoked:{_hash(str(claims.get('jti')))}", b"1", ttl)
            return
        if len(token) > 256:
            return
        raw = self.state.get(f"oidc:rt:{_hash(token)}")
        if raw is None:
            return
        grant_id = json.loads(raw)["grant_id"]
        grant = self._grant(grant_id)
        if grant is not None and grant["client_id"] == caller["client_id"]:
            self.revoke_grant(grant_id)
            self.state.delete(f"oidc:rt:{_hash(token)}")

    # ------------------------------------------------------------------- logout

    def logout(self, params: Mapping[str, str], principal: Principal | None,
               sid: str | None) -> LogoutDone | LogoutPage | ErrorPage:
        """RP-initiated logout 1.0. With a valid ``id_token_hint`` for the person in session,
        the session ends at once; otherwise the person confirms first (a site cannot log
        people out behind their back)."""
        hint = params.get("id_token_hint")
        client_id = params.get("client_id")
        hint_claims: dict[str, Any] | None = None
        if hint:
            try:
                # Expired hints are accepted (RP-initiated logout §2: the OP SHOULD),
                # but only ID tokens: an access token is no hint.
                _, hint_claims = self.signer.verify(hint, typ=ID_TOKEN_TYP, issuer=self.issuer,
                                                    check_exp=False)
            except E.InvalidToken:
                return ErrorPage("invalid_request", "id_token_hint was not issued by eLocal")
            aud = hint_claims.get("aud")
            hinted_client = aud[0] if isinstance(aud, list) and aud else aud
            if client_id and client_id != hinted_client:
                return ErrorPage("invalid_request", "client_id does not match id_token_hint")
            client_id = str(hinted_client)
        client: dict[str, Any] | None = None
        if client_id:
            with self.db() as s:
                row = find_client(s, client_id)
                client = row.public() if row is not None else None
            if client is None:
                return ErrorPage("invalid_request", "unknown client_id")
        target = params.get("post_logout_redirect_uri")
        redirect: str | None = None
        if target:
            if client is None or target not in client["post_logout_redirect_uris"]:
                return ErrorPage("invalid_request",
                                 "post_logout_redirect_uri is not registered for this client")
            redirect = _with_query(target, {"state": params.get("state")})
        if principal is None or sid is None:
            return LogoutDone(redirect, ended=False)
        same_person = (
            hint_claims is not None and client is not None
            and hint_claims.get("sub") == self.subject_for(principal.subject, client)
            # A hint from another login session (of the same person) does not end this one
            # without asking.
            and hint_claims.get("sid", _sid_claim(_hash(sid))) == _sid_claim(_hash(sid))
        )
        if same_person:
            self._close_session(sid)
            return LogoutDone(redirect, ended=True)
        csrf = secrets.token_urlsafe(24)
        pending = {"sid": _hash(sid), "redirect": redirect}
        self.state.put(f"oidc:logout:{_hash(csrf)}", json.dumps(pending).encode(),
                       self.config.interaction_ttl)
        return LogoutPage(csrf)

    def confirm_logout(self, csrf: str, sid: str | None) -> LogoutDone | ErrorPage:
        raw = self.state.take(f"oidc:logout:{_hash(csrf)}") if csrf else None
        if raw is None:
            return ErrorPage("invalid_request", "the form is stale or was not sent by eLocal",
                             status=403)
        pending = json.loads(raw)
        if sid is None or not hmac.compare_digest(pending["sid"], _hash(sid)):
            return LogoutDone(pending["redirect"], ended=False)
        self._close_session(sid)
        return LogoutDone(pending["redirect"], ended=True)

    def _close_session(self, sid: str) -> None:
        self.sessions.close(sid)
        self.end_session_grants(sid)

