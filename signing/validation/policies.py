"""Signature policies: which ones eLocal recognises, and the store of policy documents.

An EPES signature names its policy by identifier (an OID, or a URI) and signs the
hash of the policy document. Checking that hash needs the document itself, so a
deployment keeps a folder of policy documents (``PolicyStore``); a signature whose
policy hash matches the document stored *for the identifier it names* is bound to
that exact text. A hash that happens to match some other stored document proves
nothing about the named policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

#: Policy documents larger than this are not policy documents.
MAX_POLICY_BYTES = 20 * 1024 * 1024

_HASHES = {
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
}


@dataclass(frozen=True)
class KnownPolicy:
    name: str
    oid: str
    uris: tuple[str, ...]
    #: Published digests of the policy document (algorithm, base64), where the
    #: publisher states them; a stored document with one of these *is* this policy.
    digests: tuple[tuple[str, str], ...] = ()
    #: Signed properties the policy makes mandatory for XAdES.
    xades_required: tuple[str, ...] = ()


_AGE_XADES = ("SigningTime", "SigningCertificate", "SignaturePolicyIdentifier", "DataObjectFormat")

KNOWN_POLICIES: tuple[KnownPolicy, ...] = (
    KnownPolicy(
        name="AGE v1.9",
        oid="2.16.724.1.3.1.1.2.1.9",
        uris=("https://sede.administracion.gob.es/politica_de_firma_anexo_1.pdf",),
        digests=(("sha1", "G7roucf600+f03r/o0bAOQ6WAs0="),),
        xades_required=_AGE_XADES,
    ),
    KnownPolicy(
        name="AGE v1.8",
        oid="2.16.724.1.3.1.1.2.1.8",
        uris=(
            "http://administracionelectronica.gob.es/es/ctt/politicafirma/politica_firma_AGE_v1_8.pdf",
        ),
        xades_required=_AGE_XADES,
    ),
)


def normalise_identifier(identifier: str) -> str:
    """``urn:oid:1.2.3`` and ``1.2.3`` name the same policy."""
    ident = identifier.strip()
    if ident.lower().startswith("urn:oid:"):
        ident = ident[8:]
    return ident


def known_policy(identifier: str) -> KnownPolicy | None:
    ident = normalise_identifier(identifier)
    for policy in KNOWN_POLICIES:
        if ident == policy.oid or ident in policy.uris:
            return policy
    return None


@dataclass(frozen=True)
class PolicyCheck:
    #: True: the identifier's own document (stored, or its published digest) has this hash.
    #: False: the identifier's own document is stored, and its hash differs.
    #: None: the identifier's document is not known here.
    hash_matches: bool | None
    known: KnownPolicy | None
    document: str | None


class PolicyStore:
    """Policy documents in one or more folders, matched by hash and identifier.

    A folder may hold ``index.json`` mapping identifiers to file names, for policies
    eLocal does not know by itself (for example a sector policy such as Facturae).
    """

    def __init__(self, folders: list[Path] | tuple[Path, ...] = ()) -> None:
        self.folders = tuple(Path(f) for f in folders)
        self._digests: dict[tuple[str, str], bytes] = {}

    @cached_property
    def _documents(self) -> dict[str, bytes]:
        docs: dict[str, bytes] = {}
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if (
                    path.is_file()
                    and path.name != "index.json"
                    and path.stat().st_size <= MAX_POLICY_BYTES
                ):
                    docs[str(path)] = path.read_bytes()
        return docs

    @cached_property
    def _index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for folder in self.folders:
            path = folder / "index.json"
            if path.is_file():
                for ident, name in json.loads(path.read_text()).items():
                    index[normalise_identifier(ident)] = str(folder / name)
        return index

    def _digest(self, name: str, algorithm: str) -> bytes:
        key = (name, algorithm)
        if key not in self._digests:
            self._digests[key] = hashlib.new(algorithm, self._documents[name]).digest()
        return self._digests[key]

    def check(self, identifier: str, algorithm: str, digest: bytes) -> PolicyCheck:
        """Compare a signed policy hash with the identifier's own document (constant time).

        Only the document registered for ``identifier`` (in ``index.json``, or recognised
        by a known policy's published digest) is compared: a signature naming policy A
        with the hash of stored policy B does not match A.
        """
        algo = _HASHES.get(algorithm.lower().replace("-", ""))
        known = known_policy(identifier)
        if algo is None:
            return PolicyCheck(None, known, None)
        own = self._document_for(normalise_identifier(identifier), known)
        if own is not None:
            matches = hmac.compare_digest(self._digest(own, algo), digest)
            return PolicyCheck(matches, known, Path(own).name)
        if known is not None:
            for kalgo, kvalue in known.digests:
                if kalgo == algo and hmac.compare_digest(base64.b64decode(kvalue), digest):
                    return PolicyCheck(True, known, None)
        return PolicyCheck(None, known, None)

    def _document_for(self, identifier: str, known: KnownPolicy | None) -> str | None:
        if identifier in self._index and self._index[identifier] in self._documents:
            return self._index[identifier]
        if known is None:
            return None
        for name in self._documents:
            for kalgo, kvalue in known.digests:
                if hmac.compare_digest(self._digest(name, kalgo), base64.b64decode(kvalue)):
                    return name
        return None
