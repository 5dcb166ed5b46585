"""OAuth 2.0 / OpenID Connect errors.

The ``code`` of each error is the registered OAuth error code (RFC 6749 §4.1.2.1
and §5.2, OIDC Core §3.1.2.6, RFC 6750 §3.1), so that relying parties see exactly
the values the standards define. The routes render them in the protocol's own
shape (a redirect with ``error=``, a JSON body, a ``WWW-Authenticate`` header)
rather than as problem documents.
"""

from __future__ import annotations

from typing import ClassVar

from infra.errors import ElocalError


class OAuthError(ElocalError):
    code: ClassVar[str] = "invalid_request"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Invalid request"


class InvalidRequest(OAuthError):
    code = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed (unknown client, bad secret, wrong method)."""

    code = "invalid_client"
    status = 401
    title = "Client authentication failed"


class InvalidGrant(OAuthError):
    code = "invalid_grant"
    title = "The grant is invalid, expired, revoked or was issued to another client"


class UnauthorizedClient(OAuthError):
    code = "unauthorized_client"
    title = "The client may not use this grant or response type"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"
    title = "Unsupported grant type"


class UnsupportedResponseType(OAuthError):
    code = "unsupported_response_type"
    title = "Unsupported response type"


class InvalidScope(OAuthError):
    code = "invalid_scope"
    title = "Invalid scope"


class AccessDenied(OAuthError):
    code = "access_denied"
    status = 403
    title = "Access denied"


class LoginRequired(OAuthError):
    code = "login_required"
    title = "Authentication is required"


class ConsentRequired(OAuthError):
    code = "consent_required"
    title = "Consent is required"


class UnmetAuthenticationRequirements(OAuthError):
    """An essential ``acr`` cannot be satisfied by the person's authentication."""

    code = "unmet_authentication_requirements"
    title = "The requested level of assurance was not met"


class InvalidToken(OAuthError):
    """A bearer token is malformed, forged, expired or revoked (RFC 6750)."""

    code = "invalid_token"
    status = 401
    title = "Invalid access token"


class InsufficientScope(OAuthError):
    code = "insufficient_scope"
    status = 403
    title = "The access token lacks the scope this resource needs"


class InvalidRedirectUri(OAuthError):
    """The redirect URI is not registered: the error is shown, never redirected."""

    code = "invalid_redirect_uri"
    title = "The redirect URI is not registered for this client"


class UnknownClient(OAuthError):
    """The authorization request names no registered client: shown, never redirected."""

    code = "unknown_client"
    title = "Unknown client"


class RequestNotSupported(OAuthError):
    code = "request_not_supported"
    title = "Request objects are not supported"


class RequestUriNotSupported(OAuthError):
    code = "request_uri_not_supported"
    title = "request_uri is not supported"
