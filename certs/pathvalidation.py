"""Certificate path validation with revocation, for logins (and signature validation).

pyhanko-certvalidator builds and validates the path to the municipality's trust
anchors (RFC 5280, including every intermediate's revocation status). eLocal adds:

- trust anchors that are only the municipality's own (never the operating system's
  store: an empty trust store trusts nothing);
- revocation fetching that follows AIA (OCSP) and CRL distribution points, OCSP
  first with CRL as fallback, and caches every response in the state store until
  its ``nextUpdate``, so that a busy municipality does not hammer its CA;
- hard-fail revocation unless the municipality explicitly opted into soft-fail,
  where hard-fail *requires* an OCSP or CRL answer for every certificate below the
  anchor: a certificate that declares no revocation source is refused, not waved
  through (pyhanko-certvalidator's own "hard-fail" only checks what is declared);
- CA certificates are downloaded through AIA caIssuers only from explicitly
  allowed origins. Path building runs before anything is trusted, so following
  the AIA of an arbitrary client certificate would let anyone make eLocal fetch any
  URL. OCSP and CRL URLs are only followed once the path reaches an anchor and each
  certificate's signature has been checked, so they name places a trusted CA chose;
- key usage (digitalSignature), EKU (clientAuth, only when an EKU is present) and an
  optional certificate-policy allow-list on the leaf;
- one stable error code per failure, so that a client (and a support desk) can tell
  ``expired`` from ``revoked`` from ``revocation_unavailable``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.fetchers.api import FetcherBackend, Fetchers, FetchLimits
from pyhanko_certvalidator.fetchers.common_utils import FetchBudget
from pyhanko_certvalidator.fetchers.requests_fetchers import (
    RequestsCertificateFetcher,
    RequestsCRLFetcher,
    RequestsOCSPFetcher,
)
from pyhanko_certvalidator.policy_decl import (
    LEGACY_POLICY_MAP,
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from certs.keys import KeyLoadError
from certs.store import load_trust_store
from infra.errors import ElocalError, InvalidInput
from infra.state import StateStore, StateStoreError

__all__ = [
    "CertificateRejected",
    "Expired",
    "MalformedCertificate",
    "NotYetValid",
    "PolicyNotAllowed",
    "RevocationUnavailable",
    "Revoked",
    "TrustAnchors",
    "Untrusted",
    "ValidatedPath",
    "ValidationPolicy",
    "WrongUsage",
    "load_certificates",
    "load_trust_anchors",
    "parse_certificate",
    "validate_certificate",
]

log = logging.getLogger("elocal.certs")

_SHA256 = SHA256()

#: Seconds to wait for one OCSP responder, CRL or AIA download.
FETCH_TIMEOUT = 5.0
#: Revocation responses are never cached for longer than this, whatever nextUpdate says.
MAX_CACHE_SECONDS = 24 * 3600
#: CA certificates downloaded from AIA caIssuers URLs are kept this long.
AIA_CACHE_SECONDS = 24 * 3600
#: Upper bound on a certificate handed to eLocal by a client (DER bytes).
MAX_CERTIFICATE_BYTES = 16 * 1024
#: Upper bound on the number of certificates in a client-supplied chain.
MAX_CHAIN_LENGTH = 8


class CertificateRejected(ElocalError):
    """Base of every reason a certificate is refused for login."""

    code = "certificate_rejected"
    status = 401
    title = "Certificate rejected"


class Untrusted(CertificateRejected):
    code = "untrusted"
    title = "The certificate does not chain to a trust anchor of this municipality"


class Expired(CertificateRejected):
    code = "expired"
    title = "A certificate in the path has expired"


class NotYetValid(CertificateRejected):
    code = "not_yet_valid"
    title = "A certificate in the path is not valid yet"


class Revoked(CertificateRejected):
    code = "revoked"
    title = "A certificate in the path is revoked"


class RevocationUnavailable(CertificateRejected):
    code = "revocation_unavailable"
    title = "The revocation status of the certificate could not be established"


class WrongUsage(CertificateRejected):
    code = "wrong_usage"
    title = "The certificate is not meant for client authentication"


class PolicyNotAllowed(CertificateRejected):
    code = "policy_not_allowed"
    title = "The certificate policy is not accepted by this municipality"


class MalformedCertificate(InvalidInput):
    code = "malformed_certificate"
    status = 400
    title = "The certificate could not be parsed"


def parse_certificate(data: bytes) -> x509.Certificate:
    """One certificate from DER or PEM, refusing anything oversized or unparsable."""
    if not data or len(data) > MAX_CERTIFICATE_BYTES * 2:
        raise MalformedCertificate("the certificate is empty or too large")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        raise MalformedCertificate(f"not an X.509 certificate: {exc}") from exc


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (or a single DER certificate).

    Text around the PEM blocks (``openssl pkcs12`` writes "Bag Attributes") is ignored.
    """
    if b"-----BEGIN" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except (ValueError, x509.InvalidVersion) as exc:
            raise MalformedCertificate(f"not a PEM certificate bundle: {exc}") from exc
    else:
        certs = [parse_certificate(data)]
    if len(certs) > MAX_CHAIN_LENGTH:
        raise MalformedCertificate(f"more than {MAX_CHAIN_LENGTH} certificates")
    return certs


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # any failure (wrong key type, bad signature) means not self-signed
        return False
    return True


@dataclass(frozen=True)
class TrustAnchors:
    """A municipality's trust store, parsed once.

    Self-signed certificates are anchors. Any other certificate is an intermediate
    that may be used to complete a path, unless its issuer is not in the store: then
    the administrator listed it to be trusted on its own, and it is an anchor too.
    """

    roots: tuple[asn1_x509.Certificate, ...]
    intermediates: tuple[asn1_x509.Certificate, ...]
    certificates: tuple[x509.Certificate, ...] = field(default=(), repr=False)

    @classmethod
    def from_certificates(cls, certs: Iterable[x509.Certificate]) -> TrustAnchors:
        unique = {c.fingerprint(_SHA256): c for c in certs}
        all_certs = list(unique.values())
        subjects = {c.subject for c in all_certs}
        roots, inter = [], []
        for c in all_certs:
            if _self_signed(c) or c.issuer not in subjects:
                roots.append(_to_asn1(c))
            else:
                inter.append(_to_asn1(c))
        return cls(tuple(roots), tuple(inter), tuple(all_certs))


def _fingerprint_paths(paths: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    """(file, mtime, size) of every file a trust store names, to notice edits."""
    out: list[tuple[str, int, int]] = []
    for entry in paths:
        p = Path(entry)
        files = sorted(p.iterdir()) if p.is_dir() else [p]
        for f in files:
            try:
                st = os.stat(f)
            except OSError:
                out.append((str(f), -1, -1))
                continue
            out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out)


@lru_cache(maxsize=64)
def _load_anchors(paths: tuple[str, ...], _stamp: tuple[tuple[str, int, int], ...]) -> TrustAnchors:
    return TrustAnchors.from_certificates(load_trust_store(paths))


def load_trust_anchors(paths: Sequence[str]) -> TrustAnchors:
    """Parse a municipality's trust store (PEM/DER files or folders); cached until it changes.

    A trust store that names a missing file trusts nothing (``untrusted``), never
    something else.
    """
    try:
        return _load_anchors(tuple(paths), _fingerprint_paths(paths))
    except KeyLoadError as exc:
        log.error("unusable trust store %s: %s", list(paths), exc)
        raise Untrusted("this municipality's trust store is not usable") from exc


@dataclass(frozen=True)
class ValidationPolicy:
    """What a municipality demands of a login certificate."""

    anchors: TrustAnchors
    soft_fail: bool = False
    policy_allow_list: frozenset[str] = frozenset()
    key_usage: frozenset[str] = frozenset({"digital_signature"})
    #: Required when the certificate has an EKU extension (the DNIe has none).
    extended_key_usage: frozenset[str] = frozenset({ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string})
    #: URL prefixes (``https://ca.example/certs/``) under which AIA caIssuers downloads
    #: are allowed; empty: paths are built only from the trust store and the supplied chain.
    aia_prefixes: frozenset[str] = frozenset()


#: Hard-fail: every certificate below the anchor must have an OCSP or CRL answer.
HARD_FAIL = RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
)
#: Soft-fail (a municipality's explicit opt-in): check what is declared, accept silence.
SOFT_FAIL = LEGACY_POLICY_MAP["soft-fail"]


def _canonical_url(url: str) -> str | None:
    """``scheme://host:port/path`` of an http(s) URL (default port explicit), else None.

    Query, fragment and credentials make a URL unusable here: an AIA URL needs none.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if (
        scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
        or ".." in parts.path.split("/")
    ):
        return None
    port = port or (443 if scheme == "https" else 80)
    return f"{scheme}://{parts.hostname.lower()}:{port}{parts.path or '/'}"


def aia_url_allowed(url: str, prefixes: Iterable[str]) -> bool:
    """Whether ``url`` lies under one of ``prefixes`` (compared in canonical form)."""
    target = _canonical_url(url)
    if target is None:
        return False
    return any(
        (prefix := _canonical_url(p)) is not None and target.startswith(prefix) for p in prefixes
    )


@dataclass(frozen=True)
class ValidatedPath:
    """A certificate that passed validation, with its path from leaf to anchor."""

    leaf: x509.Certificate
    path: tuple[x509.Certificate, ...]
    #: True when revocation was hard-fail: every certificate below the anchor had an answer.
    revocation_hard_fail: bool


class _CachingOCSPFetcher(RequestsOCSPFetcher):
    def __init__(self, cache: StateStore | None, **kwargs: Any) -> None:
        super().__init__(request_nonces=False, **kwargs)
        self._cache = cache

    async def _fetch_single(self, ocsp_url: str, ocsp_request: asn1_ocsp.OCSPRequest) -> Any:
        cert_id = ocsp_request["tbs_request"]["request_list"][0]["req_cert"].dump()
        key = "revinfo:ocsp:" + hashlib.sha256(ocsp_url.encode() + b"\0" + cert_id).hexdigest()
        if self._cache is not None:
            cached = self._cache.get(key)
            if cached is not None:
                return asn1_ocsp.OCSPResponse.load(cached)
        response = await super()._fetch_single(ocsp_url, ocsp_request)
        if self._cache is not None:
            try:
                single = response.basic_ocsp_response["tbs_response_data"]["responses"][0]
                _store_until(self._cache, key, response.dump(), single["next_update"].native)
            except (KeyError, IndexError, ValueError, TypeError):
                pass
        return response


class _CachingCRLFetcher(RequestsCRLFetcher):
    def __init__(self, cache: StateStore | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cache = cache

    async def _fetch_single(self, url: str) -> Any:
        key = "revinfo:crl:" + hashlib.sha256(url.encode()).hexdigest()
        if self._cache is not None:
            cached = self._cache.get(key)
            if cached is not None:
                return asn1_crl.CertificateList.load(cached)
        result = await super()._fetch_single(url)
        if self._cache is not None and isinstance(result, asn1_crl.CertificateList):
            _store_until(
                self._cache, key, result.dump(), result["tbs_cert_list"]["next_update"].native
            )
        return result


def _store_until(cache: StateStore, key: str, value: bytes, next_update: datetime | None) -> None:
    """Cache revocation data until its nextUpdate; data without one is never cached."""
    if next_update is None:
        return
    ttl = (next_update - datetime.now(UTC)).total_seconds()
    if ttl > 1:
        cache.put(key, value, min(ttl, MAX_CACHE_SECONDS))


class _CachingCertificateFetcher(RequestsCertificateFetcher):
    """AIA caIssuers downloads, cached for ``AIA_CACHE_SECONDS``.

    A fetched certificate proves nothing by itself (the path is still validated up
    to an anchor), so caching it only saves a download per login.
    """

    def __init__(
        self, cache: StateStore | None, allowed_prefixes: frozenset[str], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._cache = cache
        self._allowed = allowed_prefixes

    async def _grab_certs(self, url: str, *, url_origin_type: str) -> Any:
        if not aia_url_allowed(url, self._allowed):
            # Not an error: the path may still be built from the trust store.
            log.info("not fetching CA certificates from %s: not an allowed URL", url[:200])
            return []
        key = "revinfo:aia:" + hashlib.sha256(url.encode()).hexdigest()
        if self._cache is not None:
            cached = self._cache.get(key)
            if cached is not None:
                return [
                    asn1_x509.Certificate.load(base64.b64decode(item))
                    for item in json.loads(cached)
                ]
        certs = await super()._grab_certs(url, url_origin_type=url_origin_type)
        if self._cache is not None and certs:
            value = json.dumps([base64.b64encode(c.dump()).decode() for c in certs])
            self._cache.put(key, value.encode(), AIA_CACHE_SECONDS)
        return certs


class _CachingFetcherBackend(FetcherBackend):
    def __init__(
        self, cache: StateStore | None, timeout: float, aia_prefixes: frozenset[str] = frozenset()
    ) -> None:
        self.cache = cache
        self.timeout = timeout
        self.aia_prefixes = aia_prefixes

    def get_fetchers(self) -> Fetchers:
        budget = FetchBudget(FetchLimits())
        kw: dict[str, Any] = {"per_request_timeout": self.timeout, "budget": budget}
        return Fetchers(
            ocsp_fetcher=_CachingOCSPFetcher(self.cache, **kw),
            crl_fetcher=_CachingCRLFetcher(self.cache, **kw),
            cert_fetcher=_CachingCertificateFetcher(self.cache, self.aia_prefixes, **kw),
        )

    async def close(self) -> None:
        return None


def _check_usage(cert: x509.Certificate, policy: ValidationPolicy) -> None:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if "digital_signature" in policy.key_usage and (ku is None or not ku.digital_signature):
        raise WrongUsage("the certificate's key usage does not include digitalSignature")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    present = {o.dotted_string for o in eku}
    if policy.extended_key_usage and not policy.extended_key_usage & present:
        raise WrongUsage("the certificate's extended key usage does not include clientAuth")


def _check_policies(cert: x509.Certificate, allow: frozenset[str]) -> None:
    if not allow:
        return
    try:
        ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        oids = {p.policy_identifier.dotted_string for p in ext}
    except x509.ExtensionNotFound:
        oids = set()
    if not oids & allow:
        raise PolicyNotAllowed(
            "none of the certificate's policies is on the allow-list", policies=sorted(oids)
        )


def _map_error(exc: Exception) -> CertificateRejected:
    detail = str(exc) or exc.__class__.__name__
    if isinstance(exc, cv_errors.RevokedError):
        return Revoked(detail)
    if isinstance(exc, cv_errors.InsufficientRevinfoError):
        return RevocationUnavailable(detail)
    if isinstance(exc, cv_errors.ExpiredError):
        return Expired(detail)
    if isinstance(exc, cv_errors.NotYetValidError):
        return NotYetValid(detail)
    return Untrusted(detail)


async def validate_certificate(
    leaf: x509.Certificate,
    policy: ValidationPolicy,
    *,
    extra_certs: Sequence[x509.Certificate] = (),
    cache: StateStore | None = None,
    timeout: float = FETCH_TIMEOUT,
) -> ValidatedPath:
    """Validate ``leaf`` for client authentication now, or raise a ``CertificateRejected``.

    ``extra_certs`` are untrusted intermediates supplied by the client; they may only
    help build a path that still ends at one of ``policy.anchors``.
    """
    if not policy.anchors.roots:
        raise Untrusted("this municipality has no trust anchors configured")
    try:
        context = ValidationContext(
            trust_roots=list(policy.anchors.roots),
            other_certs=[*policy.anchors.intermediates, *(_to_asn1(c) for c in extra_certs)],
            allow_fetching=True,
            revinfo_policy=CertRevTrustPolicy(SOFT_FAIL if policy.soft_fail else HARD_FAIL),
            fetcher_backend=_CachingFetcherBackend(cache, timeout, policy.aia_prefixes),
        )
        validator = CertificateValidator(_to_asn1(leaf), validation_context=context)
        path = await validator.async_validate_path()
    except (cv_errors.PathBuildingError, cv_errors.ValidationError) as exc:
        raise _map_error(exc) from exc
    except StateStoreError:
        raise
    except Exception as exc:
        # A client-supplied certificate can break the ASN.1 layer in many ways
        # (asn1crypto raises ValueError, TypeError, AttributeError…); none of them is
        # a server fault, and none may become one.
        log.info("certificate path could not be processed: %s: %s", type(exc).__name__, exc)
        raise Untrusted(f"the certificate path could not be processed: {exc}") from exc
    try:
        _check_usage(leaf, policy)
        _check_policies(leaf, policy.policy_allow_list)
    except (ValueError, TypeError) as exc:  # duplicate or malformed extensions
        raise Untrusted(f"the certificate's extensions could not be read: {exc}") from exc
    certs = reversed(list(path.iter_certs(include_root=True)))
    chain = tuple(x509.load_der_x509_certificate(c.dump()) for c in certs)
    return ValidatedPath(leaf=leaf, path=chain, revocation_hard_fail=not policy.soft_fail)
