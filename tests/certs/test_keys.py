"""Key and certificate loading: PEM, PKCS#12, pluggable schemes, caching, trust stores."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from api.demo import DEMO_CODE
from certs import keys
from certs.devpki import PKCS12_PASSWORD
from certs.keys import KeyLoadError, KeyMaterial, load_key, register_loader
from certs.store import Pki, UnknownPkiEntry, load_trust_store


def test_pem_and_pkcs12_yield_the_same_key_and_chain(pki: Pki) -> None:
    key_pem, cert_pem, p12 = pki.person_paths("citizen")
    from_pem = load_key(f"pem:{key_pem}", cert=str(cert_pem))
    from_p12 = load_key(f"pkcs12:{p12}", password=PKCS12_PASSWORD)
    assert from_pem.certificate == from_p12.certificate
    assert from_pem.key.public_key() == from_p12.key.public_key()
    assert [c.subject for c in from_p12.chain] == [pki.issuing.subject, pki.root.subject]


def test_a_seal_pem_carries_its_chain(pki: Pki) -> None:
    key, cert, _ = pki.seal_paths(DEMO_CODE)
    material = load_key(f"pem:{key}", cert=f"pem:{cert}")
    assert material.chain == (pki.issuing, pki.root)
    assert material is pki.seal(DEMO_CODE)


def test_keys_are_parsed_once_and_reparsed_when_the_file_changes(
        pki: Pki, tmp_path: Path) -> None:
    p12 = tmp_path / "citizen.p12"
    shutil.copy(pki.person_paths("citizen")[2], p12)
    first = load_key(f"pkcs12:{p12}", password=PKCS12_PASSWORD)
    assert load_key(f"pkcs12:{p12}", password=PKCS12_PASSWORD) is first
    assert keys.load_pkcs12(p12, PKCS12_PASSWORD.encode()) is first

    # Replacing the file (key rotation) is picked up without a restart.
    shutil.copy(pki.person_paths("employee")[2], p12)
    st = p12.stat()
    os.utime(p12, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    rotated = load_key(f"pkcs12:{p12}", password=PKCS12_PASSWORD)
    assert rotated is not first
    assert rotated.certificate == pki.person("employee").certificate


def test_the_pki_hands_out_the_same_parsed_objects(pki: Pki) -> None:
    assert pki.person("citizen") is pki.person("citizen")
    assert pki.issuing_key is pki.issuing_key
    assert pki.ocsp is pki.ocsp and pki.tsa.key is pki.tsa.key
    assert pki.root is pki.root
    assert pki.person("citizen").chain == (pki.issuing, pki.root)
    with pytest.raises(UnknownPkiEntry):
        pki.person("nobody")


def test_wrong_password_unknown_scheme_and_missing_files_are_clear_errors(
        pki: Pki, tmp_path: Path) -> None:
    p12 = pki.person_paths("citizen")[2]
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_key(f"pkcs12:{p12}", password="not-demo")
    with pytest.raises(KeyLoadError, match="no loader for key scheme 'vault'"):
        load_key("vault:secret/seal")
    with pytest.raises(KeyLoadError, match="<scheme>:<location>"):
        load_key(str(p12))
    with pytest.raises(KeyLoadError, match="cannot read"):
        load_key(f"pem:{tmp_path / 'absent.key.pem'}")
    # A key with someone else's certificate is refused, not silently mismatched.
    with pytest.raises(KeyLoadError, match="matches its private key"):
        load_key(f"pem:{pki.person_paths('citizen')[0]}",
                 cert=str(pki.person_paths("dnie")[1]))


def test_other_schemes_plug_in_through_the_loader_registry(pki: Pki) -> None:
    seen: list[tuple[str, str | None, bytes | None]] = []
    citizen = pki.person("citizen")

    def loader(location: str, cert: str | None, password: bytes | None) -> KeyMaterial:
        seen.append((location, cert, password))
        return citizen

    register_loader("test-token", loader)
    try:
        got = load_key("test-token:slot=1;object=seal", cert="pem:/x.pem", password="1234")
    finally:
        keys._LOADERS.pop("test-token")
    assert got is citizen
    assert seen == [("slot=1;object=seal", "/x.pem", b"1234")]


def _write_der(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))


def test_trust_store_from_a_folder_of_pem_and_der_files(pki: Pki, tmp_path: Path) -> None:
    folder = tmp_path / "anchors"
    folder.mkdir()
    shutil.copy(pki.root_path, folder / "root.crt")
    _write_der(pki.issuing, folder / "issuing.cer")
    (folder / "README.txt").write_text("not a certificate")
    (folder / "nested").mkdir()
    shutil.copy(pki.root_path, folder / "nested" / "ignored.pem")
    store = load_trust_store([str(folder)])
    assert sorted(c.subject.rfc4514_string() for c in store) == sorted(
        [pki.root.subject.rfc4514_string(), pki.issuing.subject.rfc4514_string()])


def test_trust_store_from_files_drops_duplicates(pki: Pki) -> None:
    store = load_trust_store([str(pki.root_path), str(pki.chain_path)])
    assert store == [pki.root, pki.issuing]


def test_trust_store_with_a_missing_entry_is_an_error(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match="does not exist"):
        load_trust_store([str(pki.root_path), str(tmp_path / "typo.pem")])


def test_a_trust_store_file_that_is_not_a_certificate_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(KeyLoadError, match="no readable certificate"):
        load_trust_store([str(bad)])
