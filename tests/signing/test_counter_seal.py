"""Counter-sealing an XAdES-signed document: the new seal gets its own level, and the
signature that was there before stays valid (or the seal is refused)."""

from __future__ import annotations

from typing import Any

from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod
from signxml.xades import XAdESSigner

from bench.samples import make_xml
from tests.signing.test_api import _assert_problem, _seal


def _validate(live: Any, data: bytes, code: str) -> dict[str, Any]:
    with live.client() as http:
        r = http.post("/validation", files={"document": ("sealed.xml", data)},
                      data={"municipality": code, "offline": "false"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_counter_seal_at_b_t_is_the_timestamped_one(live: Any, registrar: Any, ctx: Any,
                                                    demo_code: str) -> None:
    first = ctx.sealer.seal_xml(demo_code, make_xml(2048), "B-B")
    res = _seal(registrar, first, "signed.xml", format="xades", level="B-T")
    assert res.status_code == 200, res.text
    report = _validate(live, res.content, demo_code)
    sigs = report["signatures"]
    assert len(sigs) == 2, sigs
    assert all(s["indication"] == "TOTAL_PASSED" for s in sigs), [s["errors"] for s in sigs]
    assert sorted(s["level"] for s in sigs) == ["B-B", "B-T"], sigs
    # The signature timestamp went onto the new seal, which signxml appended last.
    assert [s["level"] for s in sigs] == ["B-B", "B-T"], sigs
    assert [t["kind"] for t in sigs[1]["timestamps"]] == ["signature"]
    assert report["indication"] == "TOTAL_PASSED"

    # The older seal is still intact next to the new one, so it can be extended.
    ext = registrar.post("/signing/extend",
                         data={"municipality": demo_code, "level": "B-T", "format": "xades"},
                         files={"document": ("signed.xml", res.content)})
    assert ext.status_code == 200, ext.text
    levels = [s["level"] for s in _validate(live, ext.content, demo_code)["signatures"]]
    assert levels == ["B-T", "B-T"]


def _plain_enveloped(ctx: Any, code: str) -> bytes:
    """A third party's enveloped signature, covering the document minus itself only."""
    seal = ctx.sealer.key(code)
    root = etree.fromstring(make_xml(2048))
    signed = XAdESSigner(signature_algorithm=SignatureMethod.RSA_SHA256,
                         digest_algorithm=DigestAlgorithm.SHA256).sign(
        root, key=seal.key, cert=[seal.certificate, *seal.chain])
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def test_seal_that_would_break_an_existing_signature_is_refused(
        live: Any, registrar: Any, ctx: Any, demo_code: str) -> None:
    other = _plain_enveloped(ctx, demo_code)
    assert _validate(live, other, demo_code)["signatures"][0]["intact"]
    for packaging in ("enveloped", "enveloping", "internally-detached"):
        res = _seal(registrar, other, "signed.xml", format="xades", level="B-T",
                    packaging=packaging)
        _assert_problem(res, 422, "existing_signature_would_break")
    # Moving the root breaks even a signature that excludes later ones.
    ours = ctx.sealer.seal_xml(demo_code, make_xml(2048), "B-B")
    _assert_problem(_seal(registrar, ours, "signed.xml", format="xades", packaging="enveloping"),
                    422, "existing_signature_would_break")
    enveloping = ctx.sealer.seal_xml(demo_code, make_xml(2048), "B-B", packaging="enveloping")
    _assert_problem(_seal(registrar, enveloping, "signed.xml", format="xades"), 422,
                    "existing_signature_would_break")


def test_detached_counter_seal_leaves_the_document_alone(live: Any, registrar: Any, ctx: Any,
                                                         demo_code: str) -> None:
    other = _plain_enveloped(ctx, demo_code)
    res = _seal(registrar, other, "signed.xml", format="xades", level="B-T",
                packaging="detached")
    assert res.status_code == 200, res.text
    assert b"SignatureTimeStamp" in res.content and b"SignatureTimeStamp" not in other
