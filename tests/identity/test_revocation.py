"""Revocation: OCSP first, CRL as fallback, answers cached in the state store until nextUpdate."""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

import pytest
import requests

from api.context import Context
from certs.pathvalidation import (
    RevocationUnavailable,
    Revoked,
    ValidationPolicy,
    load_trust_anchors,
    parse_certificate,
    validate_certificate,
)
from infra.state import MemoryStateStore


def _offline(*_: Any, **__: Any) -> NoReturn:
    raise requests.ConnectionError("network is down")


def _policy(ctx: Context) -> ValidationPolicy:
    """The demo trust store (root only); the issuing CA comes from eLocal's own AIA URL."""
    return ValidationPolicy(
        anchors=load_trust_anchors([str(ctx.settings.pki_dir / "root.pem")]),
        aia_prefixes=frozenset({f"{ctx.settings.public_url}/pki/ca/"}),
    )


def test_cached_ocsp_and_crl_answers_survive_an_outage(
    ctx: Context, live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = ctx.settings.pki_dir
    leaf = parse_certificate((pki / "people" / "citizen.pem").read_bytes())
    policy = _policy(ctx)
    cache = MemoryStateStore()

    path = asyncio.run(validate_certificate(leaf, policy, cache=cache))
    assert len(path.path) == 3 and path.revocation_hard_fail
    ttls = [cache.ttl(k) for k in list(cache._data) if k.startswith("revinfo:")]
    assert ttls and all(t is not None and 0 < t <= 24 * 3600 for t in ttls)

    # The responders become unreachable: the cache still answers, an empty cache cannot.
    monkeypatch.setattr(requests, "post", _offline)
    monkeypatch.setattr(requests, "get", _offline)
    assert asyncio.run(validate_certificate(leaf, policy, cache=cache)).leaf == leaf
    issuing = parse_certificate((pki / "issuing.pem").read_bytes())
    with pytest.raises(RevocationUnavailable):
        asyncio.run(
            validate_certificate(leaf, policy, extra_certs=[issuing], cache=MemoryStateStore())
        )


def test_crl_is_the_fallback_when_ocsp_is_down(
    ctx: Context, live: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = ctx.settings.pki_dir
    policy = _policy(ctx)
    monkeypatch.setattr(requests, "post", _offline)  # OCSP requests are POSTs; CRLs are GETs
    citizen = parse_certificate((pki / "people" / "citizen.pem").read_bytes())
    assert asyncio.run(validate_certificate(citizen, policy, cache=MemoryStateStore()))
    revoked = parse_certificate((pki / "people" / "revoked.pem").read_bytes())
    with pytest.raises(Revoked, match="CRL"):
        asyncio.run(validate_certificate(revoked, policy, cache=MemoryStateStore()))
