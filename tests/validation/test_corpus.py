"""The shared corpus of real-world and attack signatures, through ``POST /validation``.

README rules: no BROKEN file comes out TOTAL_PASSED, and each has a signature reported
altered (or is refused as a document); no INTACT file comes out altered (HASH_FAILURE,
SIG_CRYPTO_FAILURE, FORMAT_FAILURE, modified); for INTACT files only trust may be
INDETERMINATE (the corpus CAs are not ours), and every signature the manifest lists is
reported; a ``caveat`` file is never TOTAL_PASSED.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from signing.validation import PolicyStore
from tests.conftest import shared_path

FACTURAE_POLICY = (
    "http://www.facturae.es/politica_de_firma_formato_facturae/"
    "politica_de_firma_formato_facturae_v3_1.pdf"
)
ALTERED = {"HASH_FAILURE", "SIG_CRYPTO_FAILURE", "FORMAT_FAILURE"}
#: Subindications that are about trust or policy, never about the signed bytes.
TRUST_ONLY = {
    "NO_CERTIFICATE_CHAIN_FOUND",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE",
    "CHAIN_CONSTRAINTS_FAILURE",
    "OUT_OF_BOUNDS_NO_POE",
    "OUT_OF_BOUNDS_NOT_REVOKED",
    "TRY_LATER",
    "REVOKED_NO_POE",
    "REVOKED_CA_NO_POE",
    "CRYPTO_CONSTRAINTS_FAILURE",
    "NO_SIGNING_CERTIFICATE_FOUND",
    "EXPIRED",
    "NOT_YET_VALID",
    "POLICY_PROCESSING_ERROR",
    "SIGNATURE_POLICY_NOT_AVAILABLE",
}
MODIFICATION_CODES = {
    "pages_added",
    "pages_removed",
    "page_content_changed",
    "annotation_added",
    "annotation_changed",
    "annotation_removed",
    "form_filled_after_signature",
    "catalog_changed",
    "field_added",
    "byte_range_invalid",
    "byte_range_gap_not_contents",
    "revision_not_covered",
    "hash_mismatch",
    "signature_invalid",
    "reference_digest_mismatch",
}


def _entries() -> list[dict[str, Any]]:
    return json.loads(shared_path("corpus", "signatures", "manifest.json").read_text())  # type: ignore[no-any-return]


ENTRIES = _entries()

#: Intact, but covers its data only through ds:Manifest elements (all of whose references
#: verify). eLocal does not count a Manifest alone as coverage, so this real-world file is
#: INDETERMINATE / SIGNED_DATA_NOT_FOUND here, where DSS reports it B-level valid.
MANIFEST_ONLY = "xades/Signature-X-SK_DIT-1.xml"


@pytest.fixture(scope="module")
def corpus_policies(tmp_path_factory: pytest.TempPathFactory) -> PolicyStore:
    """The corpus policy documents, with the Facturae one registered under its identifier.

    eLocal knows the AGE policies by their published digests; any other policy is matched
    only through an ``index.json`` entry, as a deployment would configure it.
    """
    folder = tmp_path_factory.mktemp("sector-policies")
    shutil.copy(
        shared_path("corpus", "signatures", "xades", "policies", "dss1135-politica_de_firma.pdf"),
        folder / "facturae-3.1.pdf",
    )
    (folder / "index.json").write_text(json.dumps({FACTURAE_POLICY: "facturae-3.1.pdf"}))
    return PolicyStore([shared_path("corpus", "policies"), Path(folder)])


@pytest.fixture
def corpus_client(
    client: Any, ctx: Any, corpus_policies: PolicyStore, monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setattr(ctx.validation, "policy_store", corpus_policies)
    return client


def _validate(client: Any, entry: dict[str, Any]) -> dict[str, Any]:
    data = shared_path("corpus", "signatures", entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], "corrupted corpus copy"
    r = client.post(
        "/validation",
        files={"document": (entry["file"].rsplit("/", 1)[-1], data)},
        data={"offline": "true"},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _sig_altered(sig: dict[str, Any]) -> bool:
    codes = {e["code"] for e in sig["errors"]}
    return (
        (not sig["intact"]) or sig["subindication"] in ALTERED or bool(codes & MODIFICATION_CODES)
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_corpus_file(corpus_client: Any, entry: dict[str, Any]) -> None:
    report = _validate(corpus_client, entry)
    sigs = report["signatures"]
    if entry["expect"] == "BROKEN":
        assert report["indication"] != "TOTAL_PASSED"
        if not sigs:  # refused as a document (DTD, malformed): an error says why
            assert report["indication"] == "TOTAL_FAILED" and report["errors"], report
        assert not sigs or any(_sig_altered(s) for s in sigs), report
        if "signatures" in entry:
            broken = [s for s in sigs if _sig_altered(s)]
            intact = [s for s in sigs if not _sig_altered(s)]
            want_broken = sum(1 for s in entry["signatures"] if s["expect"] == "BROKEN")
            assert len(broken) == want_broken and len(intact) == len(sigs) - want_broken, report
        return
    assert sigs, report
    if entry["file"] == MANIFEST_ONLY:
        _assert_manifest_only(report)
        return
    if "signatures" in entry:
        assert len(sigs) == len(entry["signatures"]), report
    for sig in sigs:
        assert not _sig_altered(sig), sig
        assert sig["indication"] in ("TOTAL_PASSED", "INDETERMINATE"), sig
        if sig["indication"] == "INDETERMINATE":
            assert sig["subindication"] in TRUST_ONLY, sig
    assert report["indication"] != "TOTAL_FAILED"
    if entry.get("caveat"):
        assert report["indication"] != "TOTAL_PASSED"
        assert report["subindication"] == "NO_SIGNING_CERTIFICATE_FOUND"


def _assert_manifest_only(report: dict[str, Any]) -> None:
    """Nothing is altered: the SignatureValue and every Manifest reference verify."""
    (sig,) = report["signatures"]
    assert (sig["indication"], sig["subindication"]) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND")
    assert {e["code"] for e in sig["errors"]} == {"signed_data_not_found"}, sig
    assert [s["kind"] for s in sig["scope"]].count("manifest") == 2, sig
    assert "manifest_reference_failed" not in {w["code"] for w in sig["warnings"]}


def test_sector_policy_matches_only_under_its_own_identifier(corpus_client: Any) -> None:
    entry = next(e for e in ENTRIES if e["file"].endswith("factura_ejemplo2_32v1.xml"))
    sig = _validate(corpus_client, entry)["signatures"][0]
    assert sig["policy"]["identifier"] == FACTURAE_POLICY
    assert (sig["policy"]["hash_matches"], sig["policy"]["description"]) == (
        True,
        "facturae-3.1.pdf",
    )


def test_unregistered_policy_document_does_not_match(
    client: Any, ctx: Any, policy_store: PolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Facturae document is stored, but not registered under the Facturae identifier."""
    monkeypatch.setattr(ctx.validation, "policy_store", policy_store)
    entry = next(e for e in ENTRIES if e["file"].endswith("factura_ejemplo2_32v1.xml"))
    sig = _validate(client, entry)["signatures"][0]
    assert sig["policy"]["hash_matches"] is None
    assert "policy_document_not_available" in {w["code"] for w in sig["warnings"]}


def test_age_policy_hash_is_checked_against_the_store(corpus_client: Any) -> None:
    entry = next(e for e in ENTRIES if e["file"].endswith("sellosFNMT-XAdES_A.xml"))
    sig = _validate(corpus_client, entry)["signatures"][0]
    assert sig["policy"]["identifier"].endswith("2.16.724.1.3.1.1.2.1.9")
    assert sig["policy"]["known_policy"] == "AGE v1.9"
    assert sig["policy"]["hash_matches"] is True
    assert "legacy_sha1" in {w["code"] for w in sig["warnings"]}


def test_policy_without_its_document_is_flagged_not_matched(
    client: Any, ctx: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(ctx.validation, "policy_store", PolicyStore([tmp_path]))
    entry = next(e for e in ENTRIES if e["file"].endswith("factura_ejemplo2_32v1.xml"))
    sig = _validate(client, entry)["signatures"][0]
    assert sig["policy"]["hash_matches"] is None
    assert "policy_document_not_available" in {w["code"] for w in sig["warnings"]}


def test_policy_hash_mismatch_is_a_policy_error(
    client: Any, ctx: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The store holds a different document under the AGE v1.9 identifier."""
    (tmp_path / "not-age.pdf").write_bytes(b"%PDF-1.4 not the AGE policy")
    (tmp_path / "index.json").write_text(json.dumps({"2.16.724.1.3.1.1.2.1.9": "not-age.pdf"}))
    monkeypatch.setattr(ctx.validation, "policy_store", PolicyStore([tmp_path]))
    entry = next(e for e in ENTRIES if e["file"].endswith("sellosFNMT-XAdES_A.xml"))
    report = _validate(client, entry)
    sig = report["signatures"][0]
    assert sig["policy"]["hash_matches"] is False
    assert (sig["indication"], sig["subindication"]) == ("INDETERMINATE", "POLICY_PROCESSING_ERROR")
    assert "policy_hash_mismatch" in {e["code"] for e in sig["errors"]}


def test_real_world_ltv_levels_are_reported(corpus_client: Any) -> None:
    levels = {}
    for name in (
        "pades/doc-firmado-LT.pdf",
        "pades/Signature-P-FR_CS-5.pdf",
        "xades/Signature-X-BE_ECON-3.xml",
    ):
        entry = next(e for e in ENTRIES if e["file"] == name)
        levels[name] = _validate(corpus_client, entry)["signatures"][0]["level"]
    assert levels == {
        "pades/doc-firmado-LT.pdf": "B-LT",
        "pades/Signature-P-FR_CS-5.pdf": "B-LTA",
        "xades/Signature-X-BE_ECON-3.xml": "B-LT",
    }
