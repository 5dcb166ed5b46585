"""Sessions, throttling, client addresses and the proxy header format (public Python API)."""

from __future__ import annotations

from ipaddress import ip_network
from urllib.parse import quote

import pytest

from certs.pathvalidation import MalformedCertificate
from identity.clientcert import certificate_from_header, client_address, is_trusted_proxy
from identity.login import InvalidNext, safe_next_url
from identity.sessions import Principal, SessionStore
from identity.throttle import LoginThrottle, TooManyFailedLogins
from infra.state import MemoryStateStore
from tests.identity.conftest import TestPki


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def principal(subject: str = "12345678Z", muni: str = "L01289996") -> Principal:
    return Principal(
        subject=subject,
        capacity="citizen",
        identity={"nif": subject},
        loa="high",
        roles=(),
        municipality_code=muni,
        amr=("x509", "mtls"),
        auth_time=1,
    )


def test_idle_timeout_and_refresh() -> None:
    clock = Clock()
    store = SessionStore(MemoryStateStore(), idle_seconds=60, absolute_seconds=3600, clock=clock)
    sid = store.open(principal())
    clock.now += 59
    assert store.get(sid) == principal()  # refreshes the idle timer
    clock.now += 59
    assert store.get(sid) is not None
    clock.now += 61
    assert store.get(sid) is None
    assert store.get(sid) is None


def test_absolute_timeout_despite_activity() -> None:
    clock = Clock()
    store = SessionStore(MemoryStateStore(), idle_seconds=60, absolute_seconds=150, clock=clock)
    sid = store.open(principal())
    for _ in range(2):
        clock.now += 50
        assert store.get(sid) is not None
    clock.now += 50
    assert store.get(sid) is None


def test_close_and_close_all() -> None:
    clock = Clock()
    store = SessionStore(MemoryStateStore(), clock=clock)
    a, b = store.open(principal()), store.open(principal())
    other_muni = store.open(principal(muni="L01289985"))
    other_person = store.open(principal("99999999R"))
    store.close(a)
    assert store.get(a) is None and store.get(b) is not None
    clock.now += 1
    store.close_all("12345678Z", "L01289996")
    assert store.get(b) is None
    assert store.get(other_muni) is not None and store.get(other_person) is not None
    clock.now += 1
    assert store.get(store.open(principal())) is not None  # a later login works again


@pytest.mark.parametrize("sid", ["", "x" * 500, "not-a-session", "\x00"])
def test_unknown_or_absurd_session_ids(sid: str) -> None:
    assert SessionStore(MemoryStateStore()).get(sid) is None


def test_session_ids_are_unique_and_unguessable() -> None:
    store = SessionStore(MemoryStateStore())
    ids = {store.open(principal()) for _ in range(200)}
    assert len(ids) == 200 and all(len(i) >= 43 for i in ids)


def test_throttle_counts_failures_per_address_and_ipv6_prefix() -> None:
    t = LoginThrottle(MemoryStateStore(), limit=3, window_seconds=60)
    for _ in range(3):
        t.check("2001:db8::1")
        t.failed("2001:db8::1")
    with pytest.raises(TooManyFailedLogins) as exc:
        t.check("2001:db8::ffff")  # same /64
    assert exc.value.status == 429 and exc.value.extra["retry_after"] >= 1
    t.check("2001:db8:0:1::1")  # another /64
    t.check("192.0.2.1")


def test_client_address_honours_forwarded_for_only_from_trusted_proxies() -> None:
    nets = [ip_network("127.0.0.2/32"), ip_network("10.0.0.0/8")]
    assert client_address("127.0.0.1", "6.6.6.6", nets) == "127.0.0.1"
    assert client_address("127.0.0.2", "6.6.6.6", nets) == "6.6.6.6"
    # A client prepending its own X-Forwarded-For cannot pick its address.
    assert client_address("127.0.0.2", "1.1.1.1, 203.0.113.9, 10.1.2.3", nets) == "203.0.113.9"
    assert not is_trusted_proxy("testclient", nets)
    assert not is_trusted_proxy("127.0.0.2", [])


def test_nginx_escaped_header_and_legacy_forms(test_pki: TestPki) -> None:
    leaf = test_pki.citizen()
    pem = leaf.pem.decode()
    for value in (
        quote(pem, safe=""),
        pem.replace("\n", "\n\t").strip(),
        pem.replace("\n", " ").strip(),
    ):
        assert certificate_from_header(value)[0] == leaf.cert
    for bad in (
        "",
        "%",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "notbase64!!",
        "A" * 40000,
    ):
        with pytest.raises(MalformedCertificate):
            certificate_from_header(bad)


@pytest.mark.parametrize("value", ["/", "/me", "/oidc/authorize?client_id=x&state=%2F%2F"])
def test_safe_next(value: str) -> None:
    assert safe_next_url(value) == value


@pytest.mark.parametrize("value", ["//x", "/\\x", "http://x/", "x", "/a b", "/\t/x", "/\x00"])
def test_unsafe_next(value: str) -> None:
    with pytest.raises(InvalidNext):
        safe_next_url(value)
