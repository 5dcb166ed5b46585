"""Throttling of failed logins per client address, in the state store.

Counting failures (not attempts) keeps a busy office behind one NAT address usable,
while a client that keeps presenting bad certificates, replayed nonces or forged
signatures is slowed to ``limit`` failures per ``window_seconds``. IPv6 clients are
counted per /64, since one host usually owns a whole /64.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address, ip_network

from infra.errors import ElocalError
from infra.state import StateStore

__all__ = ["LoginThrottle", "TooManyChallenges", "TooManyFailedLogins"]

#: Failed logins allowed per address and window before further attempts are refused.
DEFAULT_LIMIT = 10
DEFAULT_WINDOW_SECONDS = 300
#: Login challenges one address may request per minute (each lives in the state store).
DEFAULT_CHALLENGE_LIMIT = 60


class TooManyChallenges(ElocalError):
    code = "too_many_challenges"
    status = 429
    title = "Too many login challenges from this address; try again later"


class TooManyFailedLogins(ElocalError):
    code = "too_many_failed_logins"
    status = 429
    title = "Too many failed logins from this address; try again later"


def _bucket(address: str) -> str:
    try:
        ip = ip_address(address)
    except ValueError:
        return "other:" + address[:64]
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is None:
        return str(ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, IPv6Address) else str(ip)


@dataclass
class LoginThrottle:
    state: StateStore
    limit: int = DEFAULT_LIMIT
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    challenge_limit: int = DEFAULT_CHALLENGE_LIMIT

    def _key(self, address: str) -> str:
        return "login-failures:" + hashlib.sha256(_bucket(address).encode()).hexdigest()

    def check(self, address: str) -> None:
        """Refuse (429, with ``retry_after``) an address that used up its failures."""
        key = self._key(address)
        raw = self.state.get(key)
        if raw is not None and int(raw) >= self.limit:
            retry = self.state.ttl(key) or self.window_seconds
            raise TooManyFailedLogins(retry_after=max(1, int(retry + 0.999)))

    def failed(self, address: str) -> int:
        """Count one failed login; returns the failures in the current window."""
        return self.state.incr(self._key(address), self.window_seconds)

    def challenge_issued(self, address: str) -> None:
        """Count a challenge; refuse (429) past ``challenge_limit`` a minute.

        Nonces are cheap for a client and cost state-store memory, so their issue is
        bounded per address like failures are.
        """
        key = "login-challenges:" + hashlib.sha256(_bucket(address).encode()).hexdigest()
        count = self.state.incr(key, 60)
        if count > self.challenge_limit:
            retry = self.state.ttl(key) or 60
            raise TooManyChallenges(retry_after=max(1, int(retry + 0.999)))
