"""The key-value state store: short-lived, security-relevant state.

Authorization codes, login nonces, sessions, throttling counters and replay
caches live here rather than in the database, because they need expiry and atomic
single-use semantics. Two implementations share one contract (see
``tests/infra/test_state_contract.py``): Redis for real deployments and several
workers, and an in-process store for the embedded single-process default.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

import redis


class StateStoreError(Exception):
    """The state store could not be reached or answered unexpectedly."""


@runtime_checkable
class StateStore(Protocol):
    """Contract of every state store. Keys are strings, values are bytes."""

    def put(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if ``key`` is absent; True if this call created it."""

    def get(self, key: str) -> bytes | None:
        """The live value, or None if absent or expired."""

    def take(self, key: str) -> bytes | None:
        """Atomically read and delete: of several concurrent takes, exactly one gets the value."""

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it existed."""

    def incr(self, key: str, ttl: float) -> int:
        """Atomically increment a counter; a new counter starts at 1 and expires after ``ttl``."""

    def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires, or None if it is absent."""

    def ping(self) -> None:
        """Raise StateStoreError if the store is unreachable."""


class MemoryStateStore:
    """In-process store for the embedded default (one process, any number of threads)."""

    def __init__(self, clock: object = None) -> None:
        self._data: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock if callable(clock) else time.monotonic

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def _live(self, key: str) -> tuple[bytes, float] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self._now():
            del self._data[key]
            return None
        return item

    def _sweep(self) -> None:
        # Amortised clean-up so that expired keys do not accumulate forever.
        if len(self._data) > 10_000:
            now = self._now()
            for k in [k for k, (_, exp) in self._data.items() if exp <= now]:
                del self._data[k]

    def put(self, key: str, value: bytes, ttl: float) -> None:
        _check_ttl(ttl)
        with self._lock:
            self._sweep()
            self._data[key] = (bytes(value), self._now() + ttl)

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        _check_ttl(ttl)
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (bytes(value), self._now() + ttl)
            return True

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._live(key)
            return None if item is None else item[0]

    def take(self, key: str) -> bytes | None:
        with self._lock:
            item = self._live(key)
            if item is None:
                return None
            del self._data[key]
            return item[0]

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._live(key) is not None and self._data.pop(key, None) is not None

    def incr(self, key: str, ttl: float) -> int:
        _check_ttl(ttl)
        with self._lock:
            item = self._live(key)
            if item is None:
                self._data[key] = (b"1", self._now() + ttl)
                return 1
            value = int(item[0]) + 1
            self._data[key] = (str(value).encode(), item[1])
            return value

    def ttl(self, key: str) -> float | None:
        with self._lock:
            item = self._live(key)
            return None if item is None else item[1] - self._now()

    def ping(self) -> None:
        return None


class RedisStateStore:
    """Redis-backed store; every operation is a single atomic Redis command or script."""

    _INCR = (
        "local v = redis.call('INCR', KEYS[1]) "
        "if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
        "return v"
    )

    def __init__(self, url: str, *, prefix: str = "elocal:") -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        self._prefix = prefix
        self._incr = self._redis.register_script(self._INCR)

    def _k(self, key: str) -> str:
        return self._prefix + key

    def _call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise StateStoreError(f"state store unavailable: {exc}") from exc

    def put(self, key: str, value: bytes, ttl: float) -> None:
        _check_ttl(ttl)
        self._call(self._redis.set, self._k(key), value, px=_ms(ttl))

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        _check_ttl(ttl)
        return bool(self._call(self._redis.set, self._k(key), value, px=_ms(ttl), nx=True))

    def get(self, key: str) -> bytes | None:
        return self._call(self._redis.get, self._k(key))  # type: ignore[no-any-return]

    def take(self, key: str) -> bytes | None:
        return self._call(self._redis.getdel, self._k(key))  # type: ignore[no-any-return]

    def delete(self, key: str) -> bool:
        return bool(self._call(self._redis.delete, self._k(key)))

    def incr(self, key: str, ttl: float) -> int:
        _check_ttl(ttl)
        return int(self._call(self._incr, keys=[self._k(key)], args=[_ms(ttl)]))

    def ttl(self, key: str) -> float | None:
        ms = self._call(self._redis.pttl, self._k(key))
        return None if ms is None or ms < 0 else ms / 1000.0

    def ping(self) -> None:
        self._call(self._redis.ping)

    def close(self) -> None:
        self._redis.close()


def _check_ttl(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError("ttl must be positive")


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


def open_state_store(url: str | None, *, prefix: str = "elocal:") -> StateStore:
    """A Redis store for a ``redis://`` URL, the in-process store for None or ``memory://``."""
    if url is None or url in ("", "memory://"):
        return MemoryStateStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStateStore(url, prefix=prefix)
    raise ValueError(f"unsupported state store URL scheme: {url.split(':', 1)[0]!r}")
