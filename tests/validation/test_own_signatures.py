"""Every signature eLocal makes validates as TOTAL_PASSED at the level it was made.

The seals come from the signing service (``ctx.sealer``) with the demo PKI and
eLocal's own TSA and OCSP responder running on a real port (``live``); validation
runs through ``POST /validation`` with the municipality's trust store, online, and
offline as well where the signature carries its validation data (LT, LTA).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.samples import make_pdf, make_xml

LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"]
#: The sealing service makes XAdES up to B-LT (archive timestamps are PAdES-only there).
XADES_LEVELS = ["B-B", "B-T", "B-LT"]


def _validate(live: Any, data: bytes, code: str, *, offline: bool, name: str) -> dict[str, Any]:
    with live.client() as http:
        r = http.post(
            "/validation",
            files={"document": (name, data)},
            data={"municipality": code, "offline": str(offline).lower()},
        )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("level", LEVELS)
def test_own_pades_seal_passes_at_its_level(
    live: Any, ctx: Any, demo_code: str, level: str
) -> None:
    sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1), level)
    modes = [False, True] if level in ("B-LT", "B-LTA") else [False]
    for offline in modes:
        report = _validate(live, sealed, demo_code, offline=offline, name="sealed.pdf")
        assert report["indication"] == "TOTAL_PASSED", (
            offline,
            [s["errors"] for s in report["signatures"]],
        )
        (sig,) = report["signatures"]
        assert sig["level"] == level, (offline, sig)
        assert sig["signer"]["identity"] is not None
        if level != "B-B":
            assert sig["timestamps"] and sig["best_signature_time"] is not None


@pytest.mark.parametrize("level", XADES_LEVELS)
def test_own_xades_seal_passes_at_its_level(
    live: Any, ctx: Any, demo_code: str, level: str
) -> None:
    sealed = ctx.sealer.seal_xml(demo_code, make_xml(2048), level)
    modes = [False, True] if level in ("B-LT", "B-LTA") else [False]
    for offline in modes:
        report = _validate(live, sealed, demo_code, offline=offline, name="sealed.xml")
        assert report["indication"] == "TOTAL_PASSED", (
            offline,
            [s["errors"] for s in report["signatures"]],
        )
        (sig,) = report["signatures"]
        assert sig["level"] == level, (offline, sig)


@pytest.mark.parametrize("fmt", ["pades", "xades"])
def test_own_age_policy_seal_is_recognised(
    live: Any,
    ctx: Any,
    demo_code: str,
    fmt: str,
    policy_store: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AGE v1.9 signatures: identifier recognised, policy hash checked against the store."""
    monkeypatch.setattr(ctx.validation, "policy_store", policy_store)
    if fmt == "pades":
        sealed = ctx.sealer.seal_pdf(demo_code, make_pdf(1), "B-B", age_policy=True)
    else:
        sealed = ctx.sealer.seal_xml(demo_code, make_xml(1024), "B-B", age_policy=True)
    report = _validate(live, sealed, demo_code, offline=False, name=f"sealed.{fmt}")
    assert report["indication"] == "TOTAL_PASSED", report["signatures"][0]["errors"]
    policy = report["signatures"][0]["policy"]
    assert policy["identifier"].endswith("2.16.724.1.3.1.1.2.1.9")
    assert (policy["known_policy"], policy["hash_matches"]) == ("AGE v1.9", True)
