"""What a token says about a person: subject identifiers, scopes, claims and LoA.

Pairwise subjects are per municipality (the "sector"): every app of one town hall
sees the same ``sub`` for a citizen, two town halls see unrelated values, and only
the ``nif`` scope lets them link a person across town halls.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

#: Scope -> the claims it releases.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": (),
    "profile": ("name", "given_name", "family_name"),
    "email": ("email",),
    "nif": ("nif",),
    "representation": ("representation",),
}
#: Scopes a person delegates to an application, which then acts on their behalf at an
#: eLocal API (``registry``: file submissions and read their entries). They release no
#: claims, are consented to like any other and are granted only to clients registered
#: for them.
DELEGATED_SCOPES: tuple[str, ...] = ("registry",)
#: Scopes that let an application act as itself (client_credentials), never on a person's
#: behalf: they are granted only to confidential clients registered for them, and never
#: through the authorization endpoint, where a person could be led to consent to them.
SERVICE_SCOPES: tuple[str, ...] = ("seal", "registry:exits")
SUPPORTED_SCOPES: tuple[str, ...] = (*SCOPE_CLAIMS, "offline_access", *DELEGATED_SCOPES,
                                     *SERVICE_SCOPES)
#: What a registration gets when it names no scopes: the person-facing claims, except
#: ``nif``, which links a person across town halls and so is granted only when named.
DEFAULT_CLIENT_SCOPES: tuple[str, ...] = (
    *(s for s in SCOPE_CLAIMS if s != "nif"), "offline_access")
CLAIMS_SUPPORTED: tuple[str, ...] = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
    *(c for claims in SCOPE_CLAIMS.values() for c in claims),
)

#: Human descriptions of each scope for the consent screen: (Spanish, English).
SCOPE_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "openid": ("Saber que es usted quien accede (un identificador propio de este ayuntamiento)",
               "Know that it is you (an identifier specific to this town hall)"),
    "profile": ("Su nombre y apellidos", "Your given name and family name"),
    "email": ("Su dirección de correo electrónico, si consta en su certificado",
              "Your email address, if your certificate has one"),
    "nif": ("Su NIF/NIE (identificador fiscal)", "Your NIF/NIE (tax identifier)"),
    "representation": ("La entidad a la que representa (nombre y CIF)",
                       "The entity you act for (name and CIF)"),
    "offline_access": ("Seguir accediendo a estos datos cuando no esté conectado",
                       "Keep access to this data while you are away"),
    "registry": ("Presentar escritos en el registro electrónico en su nombre y consultar "
                 "sus asientos",
                 "File submissions in the electronic registry on your behalf and read "
                 "your entries"),
    "seal": ("Aplicar el sello electrónico del ayuntamiento",
             "Apply the town hall's electronic seal"),
    "registry:exits": ("Registrar salidas del ayuntamiento",
                       "Register the town hall's outgoing documents"),
}

#: eIDAS levels of assurance (Regulation 2015/1502) as ``acr`` values, lowest first.
LOA_ACR: dict[str, str] = {
    "low": "http://eidas.europa.eu/LoA/low",
    "substantial": "http://eidas.europa.eu/LoA/substantial",
    "high": "http://eidas.europa.eu/LoA/high",
}
ACR_RANK: dict[str, int] = {uri: rank for rank, uri in enumerate(LOA_ACR.values())}


def acr_for(loa: str) -> str:
    return LOA_ACR.get(loa, LOA_ACR["low"])


def acr_satisfies(actual: str, requested: Iterable[str]) -> bool:
    """A higher eIDAS level satisfies a lower one; unknown values satisfy nothing."""
    ranks = [ACR_RANK[v] for v in requested if v in ACR_RANK]
    return bool(ranks) and ACR_RANK.get(actual, -1) >= min(ranks)


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pairwise_subject(sector: str, subject: str, salt: bytes) -> str:
    """base64url(SHA-256(sector || 0x00 || subject || 0x00 || salt)); the NUL separators
    keep ("ab", "c") and ("a", "bc") apart."""
    return _b64(hashlib.sha256(sector.encode() + b"\0" + subject.encode() + b"\0" + salt).digest())


def granted_scopes(requested: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """Requested scopes the client may have, in request order; unknown scopes are ignored
    (OIDC Core §3.1.2.1)."""
    allowed_set = set(allowed)
    return [s for s in dict.fromkeys(requested)
            if s in allowed_set and s in SUPPORTED_SCOPES and s not in SERVICE_SCOPES]


def person_claims(identity: Mapping[str, Any], capacity: str | None = None) -> dict[str, Any]:
    """Every scope-governed claim we know about a person (absent values are left out).

    ``representation`` names the entity the person acts for and in which capacity
    (``representative`` of a company, ``employee`` of an administration).
    """
    given = identity.get("given_name")
    family = identity.get("family_name")
    name = identity.get("name") or " ".join(p for p in (given, family) if p) or None
    out: dict[str, Any] = {
        "name": name,
        "given_name": given,
        "family_name": family,
        "email": identity.get("email"),
        "nif": identity.get("nif"),
    }
    if identity.get("entity_cif") or identity.get("entity_name"):
        out["representation"] = {
            k: v for k, v in (("cif", identity.get("entity_cif")),
                              ("name", identity.get("entity_name")),
                              ("capacity", capacity)) if v
        }
    return {k: v for k, v in out.items() if v}


def released_claims(identity: Mapping[str, Any], scopes: Iterable[str],
                    capacity: str | None = None) -> dict[str, Any]:
    """The claims the granted scopes allow; nothing outside them is ever released."""
    allowed = {c for s in scopes for c in SCOPE_CLAIMS.get(s, ())}
    return {k: v for k, v in person_claims(identity, capacity).items() if k in allowed}


def scopes_for_claims(names: Iterable[str]) -> list[str]:
    """The scopes that release individually requested claims (the ``claims`` parameter):
    asking for a claim is asking for, and consenting to, its scope."""
    wanted = set(names)
    return [s for s, claims in SCOPE_CLAIMS.items() if wanted & set(claims)]
