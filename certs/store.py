"""Parsed access to the PKI folder, and per-municipality trust stores.

``Pki`` is created once per process (``Context.pki``); every certificate and key
it returns is parsed once (``certs.keys`` caches by path and modification time),
so request handlers may call it freely.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from certs import devpki
from certs.keys import KeyLoadError, KeyMaterial, load_certificate, load_certificates, load_key
from infra.errors import NotFound

if TYPE_CHECKING:
    from certs.crl import CrlPublisher
    from certs.ocsp import OcspResponder

#: File suffixes read from a trust-store folder (PEM or DER).
TRUST_STORE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})


class UnknownCa(NotFound):
    code = "unknown_ca"
    title = "No such certificate authority"


class UnknownPkiEntry(NotFound):
    code = "unknown_pki_entry"
    title = "No such certificate in the PKI folder"


class Pki:
    """The deployment's PKI folder (layout: ``certs.devpki``)."""

    #: Names of the CAs the deployment runs, as used in URLs (``/pki/crl/<ca>.crl``).
    CA_NAMES = (devpki.ROOT, devpki.ISSUING)

    def __init__(self, pki_dir: Path) -> None:
        self.dir = Path(pki_dir)
        self._lock = threading.Lock()
        self._chained: dict[str, tuple[KeyMaterial, KeyMaterial]] = {}

    # --- CAs --------------------------------------------------------------------------------
    @property
    def root(self) -> x509.Certificate:
        return load_certificate(self.dir / "root.pem")

    @property
    def issuing(self) -> x509.Certificate:
        return load_certificate(self.dir / "issuing.pem")

    @property
    def issuing_key(self) -> CertificateIssuerPrivateKeyTypes:
        return self._material(devpki.ISSUING).key  # type: ignore[return-value]

    @property
    def root_key(self) -> CertificateIssuerPrivateKeyTypes:
        return self._material(devpki.ROOT).key  # type: ignore[return-value]

    def ca(self, name: str) -> KeyMaterial:
        """``root`` or ``issuing``: certificate and key of one of the deployment's CAs."""
        if name not in self.CA_NAMES:
            raise UnknownCa(f"no CA named {name!r}", ca=name, known=list(self.CA_NAMES))
        return self._material(name)

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Issuing CA then root (what a leaf of this PKI needs to reach its anchor)."""
        return (self.issuing, self.root)

    @cached_property
    def ocsp_responder(self) -> OcspResponder:
        from certs.ocsp import OcspResponder

        return OcspResponder(self)

    @cached_property
    def crl_publisher(self) -> CrlPublisher:
        from certs.crl import CrlPublisher

        return CrlPublisher(self)

    # --- services ---------------------------------------------------------------------------
    @property
    def tsa(self) -> KeyMaterial:
        return self._with_chain("tsa/tsa")

    @property
    def ocsp(self) -> KeyMaterial:
        return self._with_chain("ocsp/ocsp")

    @property
    def tls_cert_path(self) -> Path:
        return self.dir / "tls" / "server.pem"

    @property
    def tls_key_path(self) -> Path:
        return self.dir / "tls" / "server.key.pem"

    @property
    def client_ca_path(self) -> Path:
        return self.dir / "tls" / "client-ca.pem"

    @property
    def root_path(self) -> Path:
        return self.dir / "root.pem"

    @property
    def chain_path(self) -> Path:
        return self.dir / "chain.pem"

    # --- seals and sample people ------------------------------------------------------------
    def seal(self, code: str) -> KeyMaterial:
        """The electronic seal of a municipality (by DIR3 code), with its chain."""
        return self._with_chain(f"seals/{code}")

    def seal_paths(self, code: str) -> tuple[Path, Path, Path]:
        """(key PEM, certificate PEM with chain, PKCS#12) of a municipality's seal."""
        base = self.dir / "seals" / code
        return (base.with_name(f"{code}.key.pem"), base.with_name(f"{code}.pem"),
                base.with_name(f"{code}.p12"))

    def person(self, name: str) -> KeyMaterial:
        """A sample person (``citizen``, ``dnie``, ``representative``, ``employee``…)."""
        if name not in devpki.PEOPLE:
            raise UnknownPkiEntry(f"no sample person {name!r}", known=list(devpki.PEOPLE))
        return self._with_chain(f"people/{name}")

    def person_paths(self, name: str) -> tuple[Path, Path, Path]:
        """(key PEM, certificate PEM, PKCS#12) of a sample person."""
        base = self.dir / "people"
        return (base / f"{name}.key.pem", base / f"{name}.pem", base / f"{name}.p12")

    # --- internals --------------------------------------------------------------------------
    def _material(self, label: str) -> KeyMaterial:
        key = self.dir / f"{label}.key.pem"
        cert = self.dir / f"{label}.pem"
        try:
            return load_key(f"pem:{key}", cert=str(cert))
        except KeyLoadError:
            if key.exists() and cert.exists():
                raise
            raise UnknownPkiEntry(f"{label} is missing from {self.dir} (run `elocal pki init`)",
                                  label=label) from None

    def _with_chain(self, label: str) -> KeyMaterial:
        """The material, chain completed from the CAs; the same object until files change."""
        base = self._material(label)
        if base.chain:
            return base
        with self._lock:
            hit = self._chained.get(label)
            if hit is not None and hit[0] is base:
                return hit[1]
            full = KeyMaterial(base.key, base.certificate, self.chain, base.source)
            self._chained[label] = (base, full)
            return full


def load_trust_store(paths: list[str] | tuple[str, ...]) -> list[x509.Certificate]:
    """The certificates of a trust store given as PEM/DER files and folders of them.

    A folder contributes every ``.pem``/``.crt``/``.cer``/``.der`` file directly in it
    (sorted, so the order is stable). Duplicates are dropped. A missing path is an
    error, not an empty store: a typo must not silently trust nothing (or, worse,
    fall back to something else).
    """
    seen: set[bytes] = set()
    out: list[x509.Certificate] = []
    for entry in paths:
        p = Path(entry)
        if p.is_dir():
            files = sorted(f for f in p.iterdir()
                           if f.is_file() and f.suffix.lower() in TRUST_STORE_SUFFIXES)
        elif p.is_file():
            files = [p]
        else:
            raise KeyLoadError(f"trust store entry {entry} does not exist", path=entry)
        for f in files:
            for cert in load_certificates(f):
                fp = cert.fingerprint(hashes.SHA256())
                if fp not in seen:
                    seen.add(fp)
                    out.append(cert)
    return out

