"""Challenge–response login for API clients and the CLI (no TLS client authentication).

eLocal issues a random nonce, kept in the state store for ``NONCE_TTL_SECONDS`` and
consumed with ``take`` (atomic: a nonce is good for exactly one attempt, successful
or not). The client signs ``signed_message(origin, municipality, nonce)``:

    elocal-login-v1:<origin>:<municipality>:<nonce>

The fixed prefix keeps a login signature from ever being mistaken for a signature
over anything else. The origin (eLocal's ``public_url``) and the municipality bind
the signature to one server and one town hall: a phishing server that relays a real
nonce to its victim gets a signature naming the phishing origin, which eLocal
refuses. A client must therefore build the message itself from the nonce and the
origin it meant to talk to, never sign text the server hands it. The certificate
then goes through the same validation as a TLS client certificate.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as CryptoUnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from infra.errors import ElocalError, InvalidInput
from infra.state import StateStore

__all__ = [
    "ALGORITHMS",
    "NONCE_TTL_SECONDS",
    "BadSignature",
    "Challenge",
    "InvalidChallenge",
    "InvalidLoginOrigin",
    "check_nonce",
    "consume_nonce",
    "issue_challenge",
    "login_origin",
    "signed_message",
    "verify_signature",
]

NONCE_TTL_SECONDS = 120
NONCE_BYTES = 32
MAX_NONCE_LENGTH = 128
MAX_SIGNATURE_BYTES = 1024
MESSAGE_PREFIX = b"elocal-login-v1:"
#: What ``secrets.token_urlsafe`` produces; anything else was never issued here.
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}", re.ASCII)
#: DIR3 codes are letters and digits; a ``:`` could shift the message's fields.
_MUNICIPALITY_RE = re.compile(r"[A-Za-z0-9]{1,20}", re.ASCII)
_DEFAULT_PORTS = {"http": 80, "https": 443}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
#: JOSE names of the accepted signature algorithms (RSA keys of 2048 bits or more).
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
MIN_RSA_BITS = 2048


class InvalidChallenge(ElocalError):
    code = "invalid_challenge"
    status = 401
    title = "The login challenge is unknown, expired or already used"


class BadSignature(ElocalError):
    code = "bad_signature"
    status = 401
    title = "The signature does not verify with the certificate's key"


class UnsupportedAlgorithm(InvalidInput):
    code = "unsupported_algorithm"
    title = "Signature algorithm not accepted"


class InvalidLoginOrigin(ValueError):
    """A server URL that cannot name a login origin (not http(s), no host)."""


@dataclass(frozen=True)
class Challenge:
    nonce: str
    expires_in: int


def _key(nonce: str) -> str:
    return "login-nonce:" + nonce


def check_nonce(nonce: object) -> str:
    """``nonce`` if it has the shape of a nonce eLocal issues, else ``InvalidChallenge``.

    Clients call this before signing, so that a hostile server cannot smuggle
    arbitrary bytes into the signed text through the nonce.
    """
    if not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce):
        raise InvalidChallenge("the nonce is not one eLocal issues")
    return nonce


def login_origin(url: str) -> str:
    """The canonical form of a server URL as it appears in the signed message.

    Scheme and host are lower-cased, a default port and a trailing slash dropped,
    so that ``https://Sede.example:443/`` and ``https://sede.example`` sign alike.
    """
    if not url.isascii():
        raise InvalidLoginOrigin(f"{url!r} must be ASCII (use the IDNA form of the host)")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidLoginOrigin(f"{url!r} is not an http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidLoginOrigin(f"{url!r} must be a plain base URL")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidLoginOrigin(f"{url!r} has an invalid port") from exc
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def signed_message(origin: str, municipality: str, nonce: str) -> bytes:
    """The exact bytes a client signs to answer ``nonce`` for ``municipality`` at ``origin``.

    Raises ``InvalidChallenge`` for a nonce or municipality code that could not
    have come from eLocal, and ``InvalidLoginOrigin`` for an unusable origin.
    """
    check_nonce(nonce)
    if not _MUNICIPALITY_RE.fullmatch(municipality):
        raise InvalidChallenge("the municipality code is not a DIR3 code")
    text = f"{login_origin(origin)}:{municipality}:{nonce}"
    return MESSAGE_PREFIX + text.encode("ascii")


def issue_challenge(state: StateStore, ttl: int = NONCE_TTL_SECONDS) -> Challenge:
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    state.put(_key(nonce), b"1", ttl)
    return Challenge(nonce=nonce, expires_in=ttl)


def consume_nonce(state: StateStore, nonce: str) -> None:
    """Use up ``nonce``; refuse it if it was never issued, has expired or was used."""
    if not nonce or len(nonce) > MAX_NONCE_LENGTH or not nonce.isascii():
        raise InvalidChallenge()
    if state.take(_key(nonce)) is None:
        raise InvalidChallenge()


def _ecdsa_der(signature: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """Accept DER (OpenSSL, cryptography) and raw r||s (JOSE, WebCrypto) ECDSA signatures."""
    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size and signature[0] != 0x30:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        return encode_dss_signature(r, s)
    return signature


def verify_signature(
    cert: x509.Certificate, message: bytes, signature: bytes, algorithm: str | None = None
) -> None:
    """Check ``signature`` over ``message`` with the certificate's public key.

    ``algorithm`` defaults to RS256 for RSA keys, ES256/384/512 (by curve) for EC
    keys and EdDSA for Ed25519; it must fit the key type.
    """
    if not signature or len(signature) > MAX_SIGNATURE_BYTES:
        raise BadSignature("the signature is empty or too long")
    try:
        key = cert.public_key()
    except (ValueError, TypeError, CryptoUnsupportedAlgorithm) as exc:
        raise BadSignature(f"unsupported public key: {exc}") from exc
    if algorithm is None:
        if isinstance(key, rsa.RSAPublicKey):
            algorithm = "RS256"
        elif isinstance(key, ec.EllipticCurvePublicKey):
            algorithm = {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES256")
        else:
            algorithm = "EdDSA"
    if algorithm not in ALGORITHMS:
        raise UnsupportedAlgorithm(
            f"algorithm must be one of {', '.join(ALGORITHMS)}", value=algorithm[:20]
        )
    try:
        if algorithm[:2] in ("RS", "PS"):
            if not isinstance(key, rsa.RSAPublicKey):
                raise BadSignature("an RSA algorithm needs an RSA key")
            if key.key_size < MIN_RSA_BITS:
                raise BadSignature(f"RSA keys shorter than {MIN_RSA_BITS} bits are refused")
            digest = _HASHES[algorithm[2:]]()
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if algorithm[0] == "R"
                else padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.AUTO)
            )
            key.verify(signature, message, pad, digest)
        elif algorithm[:2] == "ES":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise BadSignature("an ECDSA algorithm needs an EC key")
            key.verify(_ecdsa_der(signature, key), message, ec.ECDSA(_HASHES[algorithm[2:]]()))
        else:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise BadSignature("EdDSA needs an Ed25519 key")
            key.verify(signature, message)
    except InvalidSignature as exc:
        raise BadSignature() from exc
    except (ValueError, TypeError, CryptoUnsupportedAlgorithm) as exc:  # malformed DER, sizes
        raise BadSignature(f"malformed signature: {exc}") from exc
