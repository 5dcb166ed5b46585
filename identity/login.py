"""Certificate login: three ways in (mTLS, trusted proxy, challenge–response), one path.

Whatever carried the certificate, ``CertificateLogin`` validates it against the
municipality's trust anchors and revocation settings, reads the typed identity,
looks up staff roles and returns a ``Principal``. Failed attempts count against the
client's address (``LoginThrottle``), so that probing with bad certificates, replayed
nonces or forged signatures is slowed down.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from sqlalchemy.orm import Session

from certs.pathvalidation import (
    MAX_CHAIN_LENGTH,
    CertificateRejected,
    MalformedCertificate,
    ValidationPolicy,
    load_certificates,
    load_trust_anchors,
    validate_certificate,
)
from certs.profiles import (
    CertificateIdentity,
    PublicEmployee,
    Representative,
    UnknownIdentityFormat,
    identify,
)
from identity import staff
from identity.challenge import (
    BadSignature,
    InvalidChallenge,
    UnsupportedAlgorithm,
    consume_nonce,
    signed_message,
    verify_signature,
)
from identity.sessions import Principal
from identity.throttle import LoginThrottle
from infra.errors import InvalidInput, Unauthenticated
from infra.state import StateStore
from infra.tenancy import get_municipality

__all__ = [
    "AMR_MTLS",
    "AMR_POP",
    "CertificateLogin",
    "InvalidNext",
    "NoClientCertificate",
    "Transaction",
    "decode_base64",
    "safe_next_url",
]

#: Opens one short database transaction (``Context.transaction``).
Transaction = Callable[[], AbstractContextManager[Session]]

AMR_MTLS = ("x509", "mtls")
AMR_POP = ("x509", "pop")

#: Failures that count against the client's address.
_FAILURES = (
    CertificateRejected,
    UnknownIdentityFormat,
    MalformedCertificate,
    InvalidChallenge,
    BadSignature,
    UnsupportedAlgorithm,
)


class NoClientCertificate(Unauthenticated):
    code = "no_client_certificate"
    title = "No client certificate was presented"


class InvalidNext(InvalidInput):
    code = "invalid_next"
    title = "next must be a relative URL on this site"


def safe_next_url(value: str | None) -> str | None:
    """``value`` if it is a same-origin relative URL (``/path?query``), else refuse it.

    ``//evil.example`` and ``/\\evil.example`` are protocol-relative in browsers, so
    they are refused like absolute URLs: a login must never become an open redirect.
    """
    if value is None or value == "":
        return None
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    ):
        raise InvalidNext(field="next")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        raise InvalidNext(field="next")
    return value


def decode_base64(value: str) -> bytes:
    """Standard or URL-safe base64, padded or not; whitespace is ignored."""
    text = "".join(value.split())
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc


def _certificates_from_text(items: Sequence[str]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for item in items:
        if "-----BEGIN" in item:
            certs.extend(load_certificates(item.encode("ascii", "replace")))
        else:
            try:
                der = decode_base64(item)
            except ValueError as exc:
                raise MalformedCertificate("a certificate is neither PEM nor base64 DER") from exc
            certs.extend(load_certificates(der))
        if len(certs) > MAX_CHAIN_LENGTH:
            raise MalformedCertificate(f"more than {MAX_CHAIN_LENGTH} certificates")
    return certs


def _roles(db: Session, municipality_code: str, who: CertificateIdentity) -> tuple[str, ...]:
    if isinstance(who, PublicEmployee):
        return staff.roles_for(db, municipality_code, who.nif)
    return ()


def principal_for(
    who: CertificateIdentity,
    municipality_code: str,
    roles: tuple[str, ...],
    amr: tuple[str, ...],
    auth_time: int | None = None,
) -> Principal:
    identity = who.to_dict()
    if isinstance(who, Representative):
        identity["acting_for"] = {"cif": who.entity_cif, "name": who.entity_name}
    return Principal(
        subject=who.subject,
        capacity=who.capacity,
        identity=identity,
        loa=who.loa,
        roles=roles,
        municipality_code=municipality_code,
        amr=amr,
        auth_time=int(time.time()) if auth_time is None else auth_time,
    )


@dataclass
class CertificateLogin:
    state: StateStore
    throttle: LoginThrottle
    fetch_timeout: float = 5.0

    def failed(self, client: str) -> None:
        """Count a failure detected before ``authenticate`` (a malformed header, say)."""
        self.throttle.failed(client)

    async def authenticate(
        self,
        transaction: Transaction,
        municipality_code: str,
        certificates: Sequence[x509.Certificate],
        *,
        amr: tuple[str, ...] = AMR_MTLS,
        client: str = "unknown",
        aia_prefixes: Sequence[str] = (),
    ) -> Principal:
        """Validate ``certificates`` (leaf first) and return who logged in.

        ``aia_prefixes`` are the only URL prefixes CA certificates may be downloaded from
        to complete a path (normally eLocal's own ``public_url``): anyone can present
        a certificate, so its AIA must not steer eLocal's HTTP client.
        """
        self.throttle.check(client)
        try:
            return await self._authenticate(
                transaction, municipality_code, certificates, amr, aia_prefixes
            )
        except (*_FAILURES, NoClientCertificate):
            self.throttle.failed(client)
            raise

    async def authenticate_signature(
        self,
        transaction: Transaction,
        municipality_code: str,
        nonce: str,
        signature: str,
        certificates: Sequence[str],
        *,
        origin: str,
        algorithm: str | None = None,
        client: str = "unknown",
        aia_prefixes: Sequence[str] = (),
    ) -> Principal:
        """Challenge–response: the nonce is used up first, whatever happens next.

        ``signature`` is base64 (standard or URL-safe) over
        ``signed_message(origin, municipality_code, nonce)``, where ``origin`` is this
        server's own public URL, never one taken from the request, so that a
        signature made for another server or town hall does not verify.
        ``certificates`` are PEM blocks or base64 DER, leaf first, the rest optional
        intermediates.
        """
        self.throttle.check(client)
        try:
            consume_nonce(self.state, nonce)
            try:
                raw_signature = decode_base64(signature)
            except ValueError as exc:
                raise BadSignature("the signature is not base64") from exc
            certs = _certificates_from_text(certificates)
            if not certs:
                raise NoClientCertificate("the response carries no certificate")
            message = signed_message(origin, municipality_code, nonce)
            verify_signature(certs[0], message, raw_signature, algorithm)
            return await self._authenticate(
                transaction, municipality_code, certs, AMR_POP, aia_prefixes
            )
        except (*_FAILURES, NoClientCertificate):
            self.throttle.failed(client)
            raise

    async def _authenticate(
        self,
        transaction: Transaction,
        municipality_code: str,
        certificates: Sequence[x509.Certificate],
        amr: tuple[str, ...],
        aia_prefixes: Sequence[str],
    ) -> Principal:
        if not certificates:
            raise NoClientCertificate()
        # Short transactions on either side of validation: revocation fetching is
        # network I/O and must not hold a database lock.
        with transaction() as db:
            muni = get_municipality(db, municipality_code)
            code = muni.code
            policy = ValidationPolicy(
                anchors=load_trust_anchors(list(muni.trust_store or [])),
                soft_fail=bool(muni.revocation_soft_fail),
                policy_allow_list=frozenset(muni.policy_allow_list or ()),
                aia_prefixes=frozenset(aia_prefixes),
            )
        leaf, *extra = certificates
        await validate_certificate(
            leaf, policy, extra_certs=extra, cache=self.state, timeout=self.fetch_timeout
        )
        who = identify(leaf)
        with transaction() as db:
            roles = _roles(db, code, who)
        return principal_for(who, code, roles, amr)
