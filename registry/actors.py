"""Who acts on the registry, and what each one may do and see.

The registry takes an ``identity.Principal`` (a logged-in person, or the
principal an OIDC access token stands for) and decides from its capacity and
roles. A principal always acts in one municipality; nothing here ever lets it
reach another municipality's registry.
"""

from __future__ import annotations

from typing import Any

from identity.sessions import Principal
from registry.errors import NotAllowed

REGISTRAR_ROLE = "registrar"
CITIZEN = "citizen"
REPRESENTATIVE = "representative"
EMPLOYEE = "employee"
SEAL = "seal"
#: Capacity of a municipal application acting through an OIDC client-credentials token.
APPLICATION = "application"


def check_municipality(principal: Principal, municipality_code: str) -> None:
    if principal.municipality_code != municipality_code:
        raise NotAllowed("this session belongs to another municipality's registry",
                         municipality=municipality_code)


def is_registrar(principal: Principal) -> bool:
    return principal.capacity == EMPLOYEE and REGISTRAR_ROLE in principal.roles


def is_app(principal: Principal) -> bool:
    return principal.capacity == APPLICATION


def nif(principal: Principal) -> str | None:
    value = principal.identity.get("nif")
    return str(value).strip().upper() if value else None


def record(principal: Principal) -> dict[str, Any]:
    """How a principal appears in an entry (presenter, registrar, event actor)."""
    ident = principal.identity
    out: dict[str, Any] = {
        "subject": principal.subject,
        "capacity": principal.capacity,
        "name": ident.get("name") or " ".join(
            p for p in (ident.get("given_name"), ident.get("family_name")) if p
        ) or None,
    }
    if nif(principal):
        out["id_type"] = "NIF"
        out["id_number"] = nif(principal)
    if principal.capacity == REPRESENTATIVE:
        out["entity_cif"] = ident.get("entity_cif")
        out["entity_name"] = ident.get("entity_name")
    return {k: v for k, v in out.items() if v is not None}


def as_interested(principal: Principal) -> list[dict[str, Any]]:
    """The interested parties of a citizen's own submission: themselves, or the entity."""
    ident = principal.identity
    if principal.capacity == REPRESENTATIVE and ident.get("entity_cif"):
        return [{"id_type": "CIF", "id_number": str(ident["entity_cif"]).upper(),
                 "name": ident.get("entity_name") or ""}]
    rec = record(principal)
    return [{k: rec[k] for k in ("id_type", "id_number", "name") if k in rec}]


def party_keys(principal: Principal) -> set[str]:
    """The keys under which a principal finds its own entries."""
    keys = {f"sub:{principal.subject}"}
    if nif(principal):
        keys.add(f"id:{nif(principal)}")
    if principal.capacity == REPRESENTATIVE and principal.identity.get("entity_cif"):
        keys.add(f"id:{str(principal.identity['entity_cif']).strip().upper()}")
    return keys
