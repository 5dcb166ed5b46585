"""Authorization requests (OIDC Core §3.1.2.1): what a relying party may ask for.

Only the authorization-code flow with query responses is offered. PKCE is S256
only and required of public clients; ``prompt``, ``max_age``, ``claims`` (with
essential ``acr``), ``login_hint``, ``id_token_hint`` and ``acr_values`` are
understood; unknown parameters are ignored, request objects are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from identity.oidc import claims as claimlib
from identity.oidc import errors as E

PROMPTS = frozenset({"none", "login", "consent", "select_account"})
#: Longest accepted authorization-request parameter value (state, nonce, claims…).
MAX_PARAM_LENGTH = 2048
#: RFC 7636 §4.1: code verifiers and S256 challenges are 43-128 unreserved characters.
PKCE_VALUE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def parse_authorization_request(params: Mapping[str, str],
                                client: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an authorization request of a known client with a registered redirect URI.

    Raises the OAuth error to redirect back with; returns the request as stored while
    the person logs in and consents (JSON-able).
    """
    if "request" in params:
        raise E.RequestNotSupported("request objects are not supported")
    if "request_uri" in params:
        raise E.RequestUriNotSupported("request_uri is not supported")
    response_type = params.get("response_type", "")
    if response_type != "code":
        raise E.UnsupportedResponseType("only response_type=code is supported")
    if params.get("response_mode", "query") != "query":
        raise E.InvalidRequest("only response_mode=query is supported")
    requested = params.get("scope", "").split()
    if "openid" not in requested:
        raise E.InvalidScope("the openid scope is required")
    prompt = set(params.get("prompt", "").split())
    if prompt - PROMPTS:
        raise E.InvalidRequest(f"unsupported prompt value(s): {sorted(prompt - PROMPTS)}")
    if "none" in prompt and len(prompt) > 1:
        raise E.InvalidRequest("prompt=none cannot be combined with other values")
    max_age: int | None = None
    if params.get("max_age"):
        try:
            max_age = int(params["max_age"])
        except ValueError:
            raise E.InvalidRequest("max_age must be a number of seconds") from None
        if max_age < 0:
            raise E.InvalidRequest("max_age must not be negative")
    claims_request: dict[str, Any] = {}
    if params.get("claims"):
        try:
            claims_request = json.loads(params["claims"])
        except ValueError:
            raise E.InvalidRequest("claims is not valid JSON") from None
        if not isinstance(claims_request, dict) or not all(
            isinstance(claims_request.get(m, {}), dict) for m in ("id_token", "userinfo")
        ):
            raise E.InvalidRequest("claims must be an object of id_token/userinfo objects")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is not None:
        if (method or "plain") != "S256":
            raise E.InvalidRequest("only code_challenge_method=S256 is supported")
        if not PKCE_VALUE.fullmatch(challenge):
            raise E.InvalidRequest("code_challenge is malformed")
    elif method is not None:
        raise E.InvalidRequest("code_challenge_method without code_challenge")
    if client["client_type"] == "public" and challenge is None:
        raise E.InvalidRequest("public clients must use PKCE (code_challenge, S256)")
    claim_names = [n for m in ("id_token", "userinfo") for n in claims_request.get(m, {})]
    scopes = claimlib.granted_scopes(
        [*requested, *claimlib.scopes_for_claims(claim_names)], client["allowed_scopes"])
    essential_acr: list[str] | None = None
    acr_claim = claims_request.get("id_token", {}).get("acr")
    if isinstance(acr_claim, dict) and acr_claim.get("essential"):
        values = acr_claim.get("values") or (
            [acr_claim["value"]] if "value" in acr_claim else [])
        if not isinstance(values, list):
            raise E.InvalidRequest("claims: acr values must be a list")
        essential_acr = [str(v) for v in values] or list(claimlib.LOA_ACR.values())
    return {
        "client_id": client["client_id"],
        "redirect_uri": params["redirect_uri"],
        "state": params.get("state"),
        "nonce": params.get("nonce"),
        "scopes": scopes,
        "prompt": sorted(prompt),
        "max_age": max_age,
        "login_hint": params.get("login_hint"),
        "id_token_hint": params.get("id_token_hint"),
        "acr_values": params.get("acr_values", "").split(),
        "essential_acr": essential_acr,
        "code_challenge": challenge,
    }
