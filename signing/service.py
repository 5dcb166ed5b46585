"""``Sealer``: the signing service other packages and the API call in-process.

One ``Sealer`` is built per process (``Context.sealer``). It resolves each
municipality's seal from its ``seal_key``/``seal_cert`` specs once and keeps the
parsed key, certificate chain and pyHanko signer; TSA clients (with pooled HTTP
connections) are kept per URL. Every method is synchronous and thread-safe; the
``a…`` variants serve callers that already run an event loop.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256
from lxml import etree
from pyhanko.sign.fields import MDPPerm
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certs.keys import KeyMaterial, load_key
from infra.db import transaction
from infra.tenancy import Municipality, UnknownMunicipality
from signing import pades, revinfo, xades
from signing.errors import (
    DocumentTooLarge,
    NotAnElocalSignature,
    SealNotConfigured,
    UnsupportedOption,
)
from signing.keys import SealKey, to_asn1
from signing.levels import Level, Packaging
from signing.limits import SigningLimits
from signing.pades import Stamp
from signing.timestamps import HttpTimeStamper, LocalTimeStamper, Rfc3161TimeStamper, run_sync
from signing.tsa import TimeStampAuthority
from signing.xmlparse import parse_xml


@dataclass(frozen=True)
class SealConfig:
    """What the sealer needs to know about a municipality."""

    code: str
    name: str
    seal_key: str | None
    seal_cert: str | None
    tsa_url: str | None


PdfInput = bytes | str | Path | IO[bytes]


class Sealer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        own_tsa_url: str,
        own_tsa: Callable[[], TimeStampAuthority] | None = None,
        limits: SigningLimits | None = None,
        trust_roots: Callable[[], Iterable[x509.Certificate]] = tuple,
        key_password: str | None = None,
        tsa_timeout: float = 10.0,
        revocation_timeout: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self.own_tsa_url = own_tsa_url
        self._own_tsa = own_tsa
        self.limits = limits or SigningLimits()
        self._trust_roots = trust_roots
        self._key_password = key_password
        self._tsa_timeout = tsa_timeout
        self._revocation_timeout = revocation_timeout
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str, str | None], tuple[KeyMaterial, SealKey]] = {}
        self._timestampers: dict[str, Rfc3161TimeStamper] = {}
        self._http = httpx.Client(timeout=tsa_timeout,
                                  limits=httpx.Limits(max_keepalive_connections=16))

    # --- configuration ----------------------------------------------------------------
    def config(self, code: str) -> SealConfig:
        with transaction(self._sessions) as s:
            row = s.execute(select(Municipality.code, Municipality.name, Municipality.seal_key,
                                   Municipality.seal_cert, Municipality.tsa_url)
                            .where(Municipality.code == code)).first()
        if row is None:
            raise UnknownMunicipality(f"no municipality with DIR3 code {code!r}", value=code)
        return SealConfig(*row)

    def key(self, code: str, config: SealConfig | None = None) -> SealKey:
        """The municipality's seal, parsed once and rebuilt only when its files change."""
        cfg = config or self.config(code)
        if not cfg.seal_key:
            raise SealNotConfigured(f"municipality {code} has no seal key configured",
                                    municipality=code)
        material = load_key(cfg.seal_key, cert=cfg.seal_cert, password=self._key_password)
        cache_key = (code, cfg.seal_key, cfg.seal_cert)
        with self._lock:
            hit = self._keys.get(cache_key)
            if hit is not None and hit[0] is material:
                return hit[1]
            seal = SealKey(material)
            self._keys[cache_key] = (material, seal)
            return seal

    def timestamper(self, tsa_url: str | None = None) -> Rfc3161TimeStamper:
        """The municipality's external TSA, or else eLocal's own (in process when it can)."""
        url = tsa_url or self.own_tsa_url
        with self._lock:
            ts = self._timestampers.get(url)
            if ts is None:
                if tsa_url is None and self._own_tsa is not None:
                    ts = LocalTimeStamper(self._own_tsa().respond, url=url)
                else:
                    ts = HttpTimeStamper(url, client=self._http, timeout=self._tsa_timeout)
                self._timestampers[url] = ts
            return ts

    def validation_context(self, seal: SealKey) -> ValidationContext:
        roots = {c.fingerprint(_SHA256): c for c in (*seal.roots, *self._trust_roots())}
        return revinfo.validation_context(
            [to_asn1(c) for c in roots.values()], seal.asn1_chain,
            timeout=self._revocation_timeout)

    # --- PAdES --------------------------------------------------------------------------
    def seal_pdf(self, municipality_code: str, pdf: PdfInput, level: str | Level = Level.B_B,
                 *, stamp: Stamp | bool | None = None, certify: bool = False,
                 age_policy: bool = False, docmdp: int = 2) -> bytes:
        """Seal a PDF and return it. ``stamp=True`` draws the default visible stamp."""
        out = io.BytesIO()
        self.seal_pdf_to(out, municipality_code, pdf, level, stamp=stamp, certify=certify,
                         age_policy=age_policy, docmdp=docmdp)
        return out.getvalue()

    def seal_pdf_to(self, output: IO[bytes], municipality_code: str, pdf: PdfInput,
                    level: str | Level = Level.B_B, *, stamp: Stamp | bool | None = None,
                    certify: bool = False, age_policy: bool = False, docmdp: int = 2) -> None:
        """Seal a PDF into ``output`` (a file or spool), for documents too big to copy."""
        run_sync(self.aseal_pdf_to(output, municipality_code, pdf, level, stamp=stamp,
                                   certify=certify, age_policy=age_policy, docmdp=docmdp))

    async def aseal_pdf(self, municipality_code: str, pdf: PdfInput,
                        level: str | Level = Level.B_B, *, stamp: Stamp | bool | None = None,
                        certify: bool = False, age_policy: bool = False,
                        docmdp: int = 2) -> bytes:
        out = io.BytesIO()
        await self.aseal_pdf_to(out, municipality_code, pdf, level, stamp=stamp,
                                certify=certify, age_policy=age_policy, docmdp=docmdp)
        return out.getvalue()

    async def aseal_pdf_to(self, output: IO[bytes], municipality_code: str, pdf: PdfInput,
                           level: str | Level = Level.B_B, *, stamp: Stamp | bool | None = None,
                           certify: bool = False, age_policy: bool = False,
                           docmdp: int = 2) -> None:
        """``docmdp`` is the certification's DocMDP permission (1, 2 or 3) when ``certify``."""
        if isinstance(pdf, str | Path):
            with open(pdf, "rb") as fh:
                return await self.aseal_pdf_to(output, municipality_code, fh, level,
                                               stamp=stamp, certify=certify,
                                               age_policy=age_policy, docmdp=docmdp)
        lvl = Level.parse(level)
        permission = _docmdp_permission(docmdp)
        self._check_size(pdf)
        cfg = await asyncio.to_thread(self.config, municipality_code)
        seal = self.key(municipality_code, cfg)
        if stamp is True:
            stamp = Stamp(municipality=cfg.name)
        start = output.tell()
        for attempt in (1, 2):
            if attempt == 2:
                output.seek(start)
                output.truncate()
                if not isinstance(pdf, bytes | bytearray):
                    pdf.seek(0)
            writer = pades.open_pdf(pdf, self.limits)
            try:
                await pades.seal(
                    writer, seal, lvl, output,
                    timestamper=self.timestamper(cfg.tsa_url) if lvl.timestamped else None,
                    validation_context=lambda: self.validation_context(seal),
                    stamp=stamp or None, certify=certify, docmdp=permission,
                    age_policy=age_policy,
                    reason=f"Sello electrónico de {cfg.name}",
                )
                return
            except pades.ReservationTooSmall:
                if attempt == 2:
                    raise

    def extend_pdf(self, municipality_code: str, pdf: PdfInput, level: str | Level) -> bytes:
        """Raise the municipality's last seal in ``pdf`` to ``level`` (B-T, B-LT or B-LTA)."""
        out = io.BytesIO()
        self.extend_pdf_to(out, municipality_code, pdf, level)
        return out.getvalue()

    def extend_pdf_to(self, output: IO[bytes], municipality_code: str, pdf: PdfInput,
                      level: str | Level) -> None:
        if isinstance(pdf, str | Path):
            with open(pdf, "rb") as fh:
                return self.extend_pdf_to(output, municipality_code, fh, level)
        lvl = Level.parse(level)
        self._check_size(pdf)
        cfg = self.config(municipality_code)
        seal = self.key(municipality_code, cfg)
        writer = pades.open_pdf(pdf, self.limits)
        run_sync(pades.extend(writer, seal, lvl, output,
                              timestamper=self.timestamper(cfg.tsa_url),
                              validation_context=lambda: self.validation_context(seal)))

    # --- XAdES --------------------------------------------------------------------------
    def seal_xml(self, municipality_code: str, xml: bytes, level: str | Level = Level.B_B, *,
                 packaging: str | Packaging = Packaging.ENVELOPED, age_policy: bool = False,
                 mime_type: str = "text/xml", document_uri: str = "document.xml") -> bytes:
        lvl = Level.parse(level)
        pack = Packaging.parse(packaging)
        self._check_size(xml)
        cfg = self.config(municipality_code)
        seal = self.key(municipality_code, cfg)
        return xades.seal(
            xml, seal, lvl, pack, limits=self.limits,
            timestamper=self.timestamper(cfg.tsa_url) if lvl.timestamped else None,
            validation_context=lambda: self.validation_context(seal),
            age_policy=age_policy, mime_type=mime_type, document_uri=document_uri,
            description=f"Documento sellado por {cfg.name}",
        )

    def extend_xml(self, municipality_code: str, xml: bytes, level: str | Level) -> bytes:
        """Add a signature timestamp and/or long-term values to an eLocal XAdES seal."""
        lvl = Level.parse(level)
        if lvl is Level.B_B or lvl is Level.B_LTA:
            raise NotAnElocalSignature(f"a XAdES seal cannot be extended to {lvl.value}")
        self._check_size(xml)
        cfg = self.config(municipality_code)
        seal = self.key(municipality_code, cfg)
        tree = parse_xml(xml, self.limits.xml)
        signature = _find_own_signature(tree.getroot(), seal)
        xades.check_intact(xml, signature, seal)
        usp_children = {el.tag for el in signature.iter(f"{{{xades.XADES}}}*")}
        needs_ts = f"{{{xades.XADES}}}SignatureTimeStamp" not in usp_children
        needs_lt = lvl.long_term and f"{{{xades.XADES}}}CertificateValues" not in usp_children
        if not (needs_ts or needs_lt):
            raise NotAnElocalSignature(f"the seal already reaches {lvl.value}")
        if needs_ts:
            xades.add_signature_timestamp(signature, self.timestamper(cfg.tsa_url))
        if needs_lt:
            xades.add_long_term_values(signature, seal, lambda: self.validation_context(seal))
        return etree.tostring(tree.getroot(), xml_declaration=True, encoding="UTF-8")

    # --- timestamps ---------------------------------------------------------------------
    def timestamp(self, data: bytes, *, municipality_code: str | None = None,
                  md_algorithm: str = "sha256") -> bytes:
        """An RFC 3161 token (DER ContentInfo) over ``data``, from the TSA configured for the
        municipality (eLocal's own TSA when none is given or configured)."""
        self._check_size(data)
        tsa_url = self.config(municipality_code).tsa_url if municipality_code else None
        token: cms.ContentInfo = self.timestamper(tsa_url).timestamp_data(data, md_algorithm)
        return token.dump()

    # --- internals ----------------------------------------------------------------------
    def _check_size(self, doc: PdfInput) -> None:
        limit = self.limits.max_document_bytes
        if isinstance(doc, bytes | bytearray):
            size = len(doc)
        elif isinstance(doc, str | Path):
            size = os.path.getsize(doc)
        else:
            pos = doc.tell()
            size = doc.seek(0, os.SEEK_END)
            doc.seek(pos)
        if size > limit:
            raise DocumentTooLarge(f"the document has {size} bytes; the limit is {limit}",
                                   limit=limit)

    def close(self) -> None:
        self._http.close()


_SHA256 = SHA256()


def _docmdp_permission(value: int) -> MDPPerm:
    try:
        return MDPPerm(int(value))
    except (ValueError, TypeError):
        raise UnsupportedOption(f"docmdp must be 1, 2 or 3, not {value!r}", field="docmdp",
                                allowed=[1, 2, 3]) from None


def _find_own_signature(root: etree._Element, seal: SealKey) -> etree._Element:
    own = base64.b64encode(seal.asn1_certificate.dump()).decode()
    for sig in root.iter(f"{{{xades.DS}}}Signature"):
        first = sig.find(f"{{{xades.DS}}}KeyInfo/{{{xades.DS}}}X509Data/"
                         f"{{{xades.DS}}}X509Certificate")
        if first is not None and "".join((first.text or "").split()) == own:
            return sig
    raise NotAnElocalSignature("the document has no XAdES seal by this municipality")
