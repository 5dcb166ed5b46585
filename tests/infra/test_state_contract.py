"""One contract, every state-store backend (in-process always; Redis when configured)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from infra.state import MemoryStateStore, RedisStateStore, StateStore, StateStoreError
from tests.conftest import TEST_REDIS_URL

BACKENDS = ["memory"] + (["redis"] if TEST_REDIS_URL else [])


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    assert TEST_REDIS_URL
    s = RedisStateStore(TEST_REDIS_URL, prefix=f"contract-{uuid.uuid4().hex}:")
    s.ping()
    yield s
    for key in s._redis.scan_iter(match=s._prefix + "*"):
        s._redis.delete(key)
    s.close()


def test_put_get_and_overwrite(store: StateStore) -> None:
    store.put("k", b"one", ttl=30)
    assert store.get("k") == b"one"
    store.put("k", b"two", ttl=30)
    assert store.get("k") == b"two"
    assert store.get("missing") is None


def test_values_expire_after_their_ttl(store: StateStore) -> None:
    store.put("short", b"v", ttl=0.2)
    store.put("long", b"v", ttl=30)
    time.sleep(0.35)
    assert store.get("short") is None
    assert store.take("short") is None
    assert store.get("long") == b"v"
    remaining = store.ttl("long")
    assert remaining is not None and 25 < remaining <= 30


def test_take_is_single_use(store: StateStore) -> None:
    store.put("code", b"secret", ttl=30)
    assert store.take("code") == b"secret"
    assert store.take("code") is None
    assert store.get("code") is None


def test_add_only_creates_absent_keys(store: StateStore) -> None:
    assert store.add("nonce", b"a", ttl=30) is True
    assert store.add("nonce", b"b", ttl=30) is False
    assert store.get("nonce") == b"a"
    assert store.delete("nonce") is True
    assert store.delete("nonce") is False
    assert store.add("nonce", b"c", ttl=30) is True


def test_counter_counts_and_keeps_its_first_expiry(store: StateStore) -> None:
    assert [store.incr("fails", ttl=0.4) for _ in range(3)] == [1, 2, 3]
    time.sleep(0.55)  # later increments must not have extended the window
    assert store.incr("fails", ttl=0.4) == 1


def test_non_positive_ttl_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueError):
        store.put("k", b"v", ttl=0)


def _race_for(store: StateStore, key: str, contenders: int) -> list[bytes | None]:
    barrier = threading.Barrier(contenders)
    results: list[bytes | None] = []
    lock = threading.Lock()

    def take() -> None:
        barrier.wait()
        got = store.take(key)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=take) for _ in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_takes_have_exactly_one_winner(store: StateStore) -> None:
    for round_ in range(5):
        key = f"race-{round_}"
        store.put(key, b"prize", ttl=30)
        results = _race_for(store, key, 16)
        assert results.count(b"prize") == 1
        assert results.count(None) == 15


def test_concurrent_increments_are_not_lost(store: StateStore) -> None:
    def bump() -> None:
        for _ in range(50):
            store.incr("hits", ttl=30)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.incr("hits", ttl=30) == 401


def test_unreachable_redis_raises_a_meaningful_error() -> None:
    s = RedisStateStore("redis://127.0.0.1:1/0")
    with pytest.raises(StateStoreError):
        s.ping()
    with pytest.raises(StateStoreError):
        s.take("anything")
