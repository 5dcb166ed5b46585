"""Login sessions: who is logged in, kept server-side in the state store.

The browser holds only an opaque random session id (``SESSION_COOKIE``); the state
store keys sessions by a hash of that id, so a leaked store dump cannot be replayed
as cookies. A session ends after ``idle_seconds`` without use or ``absolute_seconds``
after login, whichever comes first.

"Logout everywhere" records a per-person not-before time: every session of that
person opened earlier is refused from then on. That is one atomic write, with no
index of session ids that concurrent logins could leave incomplete.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from infra.state import StateStore

__all__ = ["ACR_BY_LOA", "SESSION_COOKIE", "Principal", "SessionStore"]

SESSION_COOKIE = "elocal_session"
#: eIDAS levels of assurance as ``acr`` values (OpenID Connect, SAML).
ACR_BY_LOA = {
    "low": "http://eidas.europa.eu/LoA/low",
    "substantial": "http://eidas.europa.eu/LoA/substantial",
    "high": "http://eidas.europa.eu/LoA/high",
}
#: Bytes of randomness in a session id (256 bits).
SESSION_ID_BYTES = 32
#: Longest cookie value accepted; anything longer is not a session id eLocal issued.
MAX_SESSION_ID_LENGTH = 128


@dataclass(frozen=True)
class Principal:
    """An authenticated person or entity acting in one municipality."""

    subject: str
    capacity: str
    identity: dict[str, Any]
    loa: str
    roles: tuple[str, ...]
    municipality_code: str
    amr: tuple[str, ...]
    auth_time: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = list(self.roles)
        data["amr"] = list(self.amr)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Principal:
        return cls(
            subject=str(data["subject"]),
            capacity=str(data["capacity"]),
            identity=dict(data["identity"]),
            loa=str(data["loa"]),
            roles=tuple(data["roles"]),
            municipality_code=str(data["municipality_code"]),
            amr=tuple(data["amr"]),
            auth_time=int(data["auth_time"]),
        )


def _key(sid: str) -> str:
    return "session:" + hashlib.sha256(sid.encode()).hexdigest()


#: The "municipality" of the epoch that ends a person's sessions in every municipality.
_EVERYWHERE = "*"


def _epoch_key(subject: str, municipality_code: str) -> str:
    digest = hashlib.sha256(f"{municipality_code}\0{subject}".encode()).hexdigest()
    return "session-epoch:" + digest


@dataclass
class SessionStore:
    """Sessions on a ``StateStore``; safe to share between requests and workers."""

    state: StateStore
    idle_seconds: float = 30 * 60
    absolute_seconds: float = 8 * 3600
    clock: Callable[[], float] = field(default=time.time)

    def open(self, principal: Principal) -> str:
        """Start a session and return its id (the cookie value)."""
        sid = secrets.token_urlsafe(SESSION_ID_BYTES)
        now = self.clock()
        record = {"p": principal.to_json(), "created": now, "seen": now}
        self.state.put(
            _key(sid), json.dumps(record).encode(), min(self.idle_seconds, self.absolute_seconds)
        )
        return sid

    def get(self, sid: str) -> Principal | None:
        """The session's principal, or None if unknown, idle too long, too old or logged out.

        A live session's idle timer restarts on every successful ``get``.
        """
        if not sid or len(sid) > MAX_SESSION_ID_LENGTH:
            return None
        key = _key(sid)
        raw = self.state.get(key)
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            principal = Principal.from_json(record["p"])
            created, seen = float(record["created"]), float(record["seen"])
        except (ValueError, KeyError, TypeError):
            self.state.delete(key)
            return None
        now = self.clock()
        age = now - created
        if age >= self.absolute_seconds or now - seen >= self.idle_seconds:
            self.state.delete(key)
            return None
        for scope in (principal.municipality_code, _EVERYWHERE):
            epoch = self.state.get(_epoch_key(principal.subject, scope))
            if epoch is not None and created <= float(epoch):
                self.state.delete(key)
                return None
        record["seen"] = now
        self.state.put(
            key, json.dumps(record).encode(), min(self.idle_seconds, self.absolute_seconds - age)
        )
        return principal

    def close(self, sid: str) -> None:
        """End one session (logout on this browser)."""
        if sid and len(sid) <= MAX_SESSION_ID_LENGTH:
            self.state.delete(_key(sid))

    def close_everywhere(self, subject: str) -> None:
        """End every session of ``subject`` in every municipality (the person's logout).

        One deployment serves many town halls; a person who logs out of one sede on a
        shared computer must not stay logged in to another.
        """
        self.close_all(subject, _EVERYWHERE)

    def close_all(self, subject: str, municipality_code: str) -> None:
        """End every session of ``subject`` in ``municipality_code`` (logout everywhere)."""
        self.state.put(
            _epoch_key(subject, municipality_code),
            repr(self.clock()).encode(),
            self.absolute_seconds,
        )
