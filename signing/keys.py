"""Seal keys: parsed once, signing through the key object, wherever it lives.

``certs.keys`` loads PEM and PKCS#12 keys; this module adds the ``pkcs11:`` scheme
(RFC 7512 URIs) through its ``register_loader`` extension point, and wraps any of
them in a pyHanko ``Signer`` that keeps the parsed key. pyHanko's stock
``SimpleSigner`` re-parses the DER private key on every ``sign_raw`` (tens of
milliseconds, twice per signature); here the key object is built once per process
and reused.

A PKCS#11 key is represented by ``TokenPrivateKey``, which behaves like a
``cryptography`` private key for signing but sends every operation to the token:
the private key never leaves it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import unquote

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    encode_dss_signature,
)
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from certs.keys import KeyLoadError, KeyMaterial, load_certificates, register_loader
from signing.errors import TokenUnavailable


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class CachedKeySigner(Signer):
    """A pyHanko signer over an already-loaded private key (in memory or on a token)."""

    def __init__(self, key: Any, signing_cert: asn1_x509.Certificate,
                 cert_registry: SimpleCertificateStore) -> None:
        self._key = key
        super().__init__(signing_cert=signing_cert, cert_registry=cert_registry,
                         embed_roots=True, prefer_pss=False)

    #: DER size of the last CMS object this signer produced (0 before the first).
    produced_size: int = 0

    async def async_sign(self, data_digest: bytes, digest_algorithm: str, dry_run: Any = False,
                         use_pades: Any = False, timestamper: Any = None,
                         signed_attr_settings: PdfCMSSignedAttributes | None = None,
                         is_pdf_sig: Any = True, encap_content_info: Any = None) -> Any:
        result = await super().async_sign(
            data_digest, digest_algorithm, dry_run=dry_run, use_pades=use_pades,
            timestamper=timestamper, signed_attr_settings=signed_attr_settings,
            is_pdf_sig=is_pdf_sig, encap_content_info=encap_content_info)
        if not dry_run:
            self.produced_size = len(result.dump())
        return result

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if dry_run and isinstance(self._key, TokenPrivateKey):
            # Size estimation only needs the length; spare the token a round trip.
            return bytes(self.estimate_raw_signature_size_bytes())
        return self.sign_raw(data, digest_algorithm)

    def estimate_raw_signature_size_bytes(self) -> int:
        size = getattr(self._key, "key_size", 4096)
        if isinstance(self._key.public_key(), ec.EllipticCurvePublicKey):
            return 2 * ((size + 7) // 8) + 16
        return (size + 7) // 8

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mechanism.signature_algo
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if algo == "rsassa_pkcs1v15":
            return self._key.sign(data, padding.PKCS1v15(), hash_algo)  # type: ignore[no-any-return]
        if algo == "ecdsa":
            return self._key.sign(data, ec.ECDSA(hash_algo))  # type: ignore[no-any-return]
        raise KeyLoadError(f"seal keys sign with RSA PKCS#1 v1.5 or ECDSA, not {algo}")


@dataclass
class SealKey:
    """A seal certificate with its chain and key, plus the signer objects built from them."""

    material: KeyMaterial

    @property
    def certificate(self) -> x509.Certificate:
        return self.material.certificate

    @property
    def key(self) -> Any:
        return self.material.key

    @cached_property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Certificates above the seal, without self-signed roots (those are trust anchors)."""
        return tuple(c for c in self.material.chain if c.subject != c.issuer)

    @cached_property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return tuple(c for c in self.material.chain if c.subject == c.issuer)

    @cached_property
    def asn1_certificate(self) -> asn1_x509.Certificate:
        return to_asn1(self.certificate)

    @cached_property
    def asn1_chain(self) -> tuple[asn1_x509.Certificate, ...]:
        return tuple(to_asn1(c) for c in self.material.chain)

    #: Bytes to reserve for the CMS in a PDF, learnt per signature shape (see ``pades.seal``).
    reservations: dict[tuple[Any, ...], int] = field(default_factory=dict)

    @cached_property
    def _registry(self) -> SimpleCertificateStore:
        return SimpleCertificateStore.from_certs(list(self.asn1_chain))

    @property
    def signer(self) -> CachedKeySigner:
        """A signer over the already-parsed key; cheap to create, one per signature, so that
        each records the size of what it produced."""
        return CachedKeySigner(self.key, self.asn1_certificate, self._registry)

    @property
    def is_ec(self) -> bool:
        return isinstance(self.certificate.public_key(), ec.EllipticCurvePublicKey)


# --- PKCS#11 -------------------------------------------------------------------------

@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 ``pkcs11:`` URI that locate a signing key."""

    module: str
    token: str | None = None
    label: str | None = None
    key_id: bytes | None = None
    pin: str | None = None
    slot_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, location: str) -> Pkcs11Uri:
        path, _, query = location.partition("?")
        attrs: dict[str, str] = {}
        for part in [p for p in path.split(";") if p] + [q for q in query.split("&") if q]:
            name, sep, value = part.partition("=")
            if not sep:
                raise KeyLoadError(f"malformed pkcs11 URI attribute {part!r}")
            attrs[name.strip()] = value
        module = attrs.pop("module-path", None)
        if not module:
            raise KeyLoadError("a pkcs11: key spec needs module-path=<PKCS#11 library>")
        key_id = attrs.pop("id", None)
        slot = attrs.pop("slot-id", None)
        return cls(
            module=unquote(module),
            token=unquote(attrs.pop("token")) if "token" in attrs else None,
            label=unquote(attrs.pop("object")) if "object" in attrs else None,
            key_id=unquote(key_id, encoding="latin-1").encode("latin-1") if key_id else None,
            pin=unquote(attrs.pop("pin-value")) if "pin-value" in attrs else None,
            slot_id=int(slot) if slot else None,
            extra=attrs,
        )


class TokenPrivateKey:
    """A private key held by a PKCS#11 token, with the signing surface of ``cryptography``.

    Digests are computed on the host and the token signs them (``CKM_RSA_PKCS`` over a
    DigestInfo, or ``CKM_ECDSA`` over the hash); the key material stays on the token.
    One session per key is shared, serialised by a lock, because PKCS#11 sessions are
    not safe for concurrent use.
    """

    def __init__(self, session: Any, handle: Any,
                 public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> None:
        self._session = session
        self._handle = handle
        self._public = public
        self._lock = threading.Lock()

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        return self._public

    def sign(self, data: bytes, padding_or_algorithm: Any = None,
             algorithm: Any = None, **kwargs: Any) -> bytes:
        """Mirror ``RSAPrivateKey.sign(data, padding, algorithm)`` and
        ``EllipticCurvePrivateKey.sign(data, ECDSA(algorithm))`` (positional or keyword)."""
        from pkcs11 import Mechanism
        from pkcs11.exceptions import PKCS11Error

        pad = kwargs.get("padding", padding_or_algorithm)
        sig_alg = kwargs.get("signature_algorithm", padding_or_algorithm)
        algorithm = kwargs.get("algorithm", algorithm)
        try:
            if isinstance(self._public, ec.EllipticCurvePublicKey):
                hash_alg = sig_alg.algorithm
                digest = _digest(data, hash_alg)
                with self._lock:
                    raw = self._handle.sign(digest, mechanism=Mechanism.ECDSA)
                half = len(raw) // 2
                return encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                            int.from_bytes(raw[half:], "big"))
            if not isinstance(pad, padding.PKCS1v15):
                raise KeyLoadError("token keys sign with RSA PKCS#1 v1.5 only")
            digest_info = _digest_info(_digest(data, algorithm), algorithm)
            with self._lock:
                return bytes(self._handle.sign(digest_info, mechanism=Mechanism.RSA_PKCS))
        except PKCS11Error as exc:
            raise TokenUnavailable(f"the PKCS#11 token refused to sign: {exc!r}") from exc


def _digest(data: bytes, algorithm: Any) -> bytes:
    if isinstance(algorithm, Prehashed):
        return data
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


_DIGEST_INFO_PREFIX = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _digest_info(digest: bytes, algorithm: Any) -> bytes:
    name = algorithm._algorithm.name if isinstance(algorithm, Prehashed) else algorithm.name
    try:
        return _DIGEST_INFO_PREFIX[name] + digest
    except KeyError:
        raise KeyLoadError(f"token signatures use SHA-2 (256/384/512), not {name}") from None


_TOKEN_LOCK = threading.Lock()
_TOKEN_KEYS: dict[tuple[Any, ...], KeyMaterial] = {}


def _open_token_key(uri: Pkcs11Uri, cert_path: str | None, password: bytes | None
                    ) -> KeyMaterial:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import PKCS11Error

    pin = uri.pin or (password.decode() if password else None)
    try:
        lib = pkcs11.lib(uri.module)
        if uri.slot_id is not None:
            slot = next(s for s in lib.get_slots(token_present=True) if s.slot_id == uri.slot_id)
            token = slot.get_token()
        else:
            token = lib.get_token(token_label=uri.token) if uri.token else next(
                iter(lib.get_tokens()))
        session = token.open(user_pin=pin)
        query: dict[Any, Any] = {}
        if uri.label is not None:
            query[Attribute.LABEL] = uri.label
        if uri.key_id is not None:
            query[Attribute.ID] = uri.key_id
        handle = session.get_key(object_class=ObjectClass.PRIVATE_KEY,
                                 label=uri.label, id=uri.key_id)
        if cert_path:
            certs = list(load_certificates(cert_path))
        else:
            objs = session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, **query})
            certs = [x509.load_der_x509_certificate(bytes(o[Attribute.VALUE])) for o in objs]
    except (PKCS11Error, StopIteration, RuntimeError, OSError) as exc:
        raise TokenUnavailable(f"cannot open the PKCS#11 key {uri.label or uri.key_id!r}: "
                               f"{exc!r}") from exc
    if not certs:
        raise KeyLoadError("no certificate for the PKCS#11 key (give seal_cert or store it "
                           "on the token)")
    leaf, *rest = certs
    public = leaf.public_key()
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise KeyLoadError("PKCS#11 seal keys must be RSA or EC")
    key = TokenPrivateKey(session, handle, public)
    return KeyMaterial(key=key, certificate=leaf, chain=tuple(rest),  # type: ignore[arg-type]
                       source=f"pkcs11:{uri.token}/{uri.label}")


def load_pkcs11(location: str, cert_path: str | None, password: bytes | None) -> KeyMaterial:
    """``certs.keys`` loader for ``pkcs11:`` specs: one open session per key and process."""
    uri = Pkcs11Uri.parse(location)
    cache_key = (uri.module, uri.token, uri.label, uri.key_id, uri.slot_id, cert_path)
    with _TOKEN_LOCK:
        hit = _TOKEN_KEYS.get(cache_key)
        if hit is None:
            hit = _TOKEN_KEYS[cache_key] = _open_token_key(uri, cert_path, password)
        return hit


register_loader("pkcs11", load_pkcs11)
