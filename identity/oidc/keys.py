"""Token-signing keys: generation, storage, rotation and the published JWKS.

There is one active key per algorithm (RS256 and ES256). ``rotate`` retires the
active keys and creates new ones; a retired key signs nothing new but stays in
the JWKS until every token it signed has expired (``expires_after``), after which
it is deleted. Key ids are RFC 7638 thumbprints.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from identity.oidc.models import OidcSigningKey
from identity.oidc.vault import Vault
from infra.db import utcnow
from infra.errors import ElocalError

#: Algorithms eLocal signs with and accepts on its own tokens; nothing else is ever accepted.
SIGNING_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
RSA_BITS = 2048


class NoSigningKey(ElocalError):
    code = "oidc_no_signing_key"
    status = 503
    title = "The OpenID provider has no signing key"


def _generate(alg: str) -> RSAKey | ECKey:
    if alg == "RS256":
        key: RSAKey | ECKey = RSAKey.generate_key(RSA_BITS, private=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    return key


def create_key(session: Session, vault: Vault, alg: str) -> OidcSigningKey:
    key = _generate(alg)
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    private = json.dumps({**key.as_dict(private=True), "kid": kid, "alg": alg}).encode()
    row = OidcSigningKey(
        kid=kid, alg=alg, public_jwk=public,
        encrypted_private_jwk=vault.seal(private, kid.encode()),
    )
    session.add(row)
    session.flush()
    return row


def active_keys(session: Session) -> list[OidcSigningKey]:
    return list(session.scalars(
        select(OidcSigningKey).where(OidcSigningKey.retired_at.is_(None))
        .order_by(OidcSigningKey.created_at)
    ))


def ensure_keys(session: Session, vault: Vault) -> list[OidcSigningKey]:
    """Create an active key for every algorithm that has none (first start)."""
    have = {k.alg for k in active_keys(session)}
    return [create_key(session, vault, alg) for alg in SIGNING_ALGORITHMS if alg not in have]


def rotate(session: Session, vault: Vault, *, retain: timedelta,
           now: datetime | None = None) -> tuple[list[OidcSigningKey], list[OidcSigningKey]]:
    """Retire the active keys, create new ones and drop keys nothing can still verify against.

    ``retain`` is the longest lifetime of a token signed with these keys: a retired key
    is published for that long, so that tokens signed just before rotation still verify.
    Returns (new keys, retired keys).
    """
    now = now or utcnow()
    retired = active_keys(session)
    for row in retired:
        row.retired_at = now
        row.expires_after = now + retain
    created = [create_key(session, vault, alg) for alg in SIGNING_ALGORITHMS]
    prune(session, now=now)
    return created, retired


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete retired keys whose last token has expired."""
    now = now or utcnow()
    result = session.execute(
        delete(OidcSigningKey).where(
            OidcSigningKey.retired_at.is_not(None), OidcSigningKey.expires_after < now
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_keys(session: Session) -> list[OidcSigningKey]:
    return list(session.scalars(select(OidcSigningKey).order_by(OidcSigningKey.created_at)))


@dataclass(frozen=True)
class KeySnapshot:
    """Parsed keys at one moment: what signs now and what verifies."""

    signing: dict[str, RSAKey | ECKey]   # alg -> private key
    verifying: KeySet                     # every published public key
    jwks: dict[str, Any]                  # the public JWKS document


class KeyRing:
    """Parsed keys, shared by every request of a process.

    Keys are re-read from the database at most every ``refresh_seconds`` (a rotation
    done by the CLI in another process is picked up within that delay), and at once
    when a token names an unknown ``kid``, rate-limited to once per second.
    """

    def __init__(self, load: Callable[[], list[OidcSigningKey]], vault: Vault,
                 *, refresh_seconds: float = 30.0) -> None:
        self._load = load
        self._vault = vault
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._snapshot: KeySnapshot | None = None
        self._loaded_at = 0.0

    def snapshot(self, *, force: bool = False) -> KeySnapshot:
        with self._lock:
            now = time.monotonic()
            age = now - self._loaded_at
            if self._snapshot is None or age > self._refresh or (force and age > 1.0):
                self._snapshot = self._parse(self._load())
                self._loaded_at = now
            return self._snapshot

    @property
    def refresh_seconds(self) -> float:
        """How long a process may keep signing with a key after another process retired it."""
        return self._refresh

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None

    def _parse(self, rows: list[OidcSigningKey]) -> KeySnapshot:
        now = utcnow()
        signing: dict[str, RSAKey | ECKey] = {}
        public: list[dict[str, Any]] = []
        for row in rows:
            if row.retired_at is not None and row.expires_after and row.expires_after < now:
                continue
            public.append(dict(row.public_jwk))
            if row.retired_at is None:
                private = json.loads(self._vault.open(row.encrypted_private_jwk,
                                                      row.kid.encode()))
                key_cls = RSAKey if row.alg == "RS256" else ECKey
                # Later rows are newer: the newest active key of each algorithm wins.
                signing[row.alg] = key_cls.import_key(private)
        jwks = {"keys": public}
        verifying = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        return KeySnapshot(signing=signing, verifying=verifying, jwks=jwks)

    def signing_key(self, alg: str) -> RSAKey | ECKey:
        key = self.snapshot().signing.get(alg)
        if key is None:
            key = self.snapshot(force=True).signing.get(alg)
        if key is None:
            raise NoSigningKey(f"no active {alg} key; run `elocal oidc rotate-keys`")
        return key

    def verifying_keys(self, kid: str | None = None) -> KeySet:
        snap = self.snapshot()
        if kid is not None and not any(k.kid == kid for k in snap.verifying.keys):
            snap = self.snapshot(force=True)
        return snap.verifying

    def jwks(self) -> dict[str, Any]:
        return self.snapshot().jwks
