"""Loading private keys and certificates: PEM, PKCS#12, and pluggable schemes.

A key is named by a *spec* string, ``<scheme>:<location>``:

- ``pem:<key file>``: a PEM private key; the certificate (and chain) come from the
  same file or from a separate certificate file;
- ``pkcs12:<file>``: a PKCS#12 bundle with key, certificate and chain.

Other schemes (``pkcs11:…`` for HSMs) plug in with ``register_loader``. Parsing
keys is expensive (PKCS#12 runs a password KDF), so file-based results are cached
by path, modification time and size: the same file is parsed once per process and
re-read only when it changes on disk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from infra.errors import ElocalError


class KeyLoadError(ElocalError):
    """A configured key or certificate cannot be loaded (a deployment problem)."""

    code = "key_unavailable"
    status = 503
    title = "A configured key or certificate cannot be loaded"


@dataclass(frozen=True)
class KeyMaterial:
    """A private key with its certificate and the chain above it (leaf first, no root needed)."""

    key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    #: Where it came from (the spec), for messages and logs.
    source: str = ""


#: ``loader(location, cert_path, password) -> KeyMaterial`` for one scheme.
Loader = Callable[[str, "str | None", "bytes | None"], KeyMaterial]
_LOADERS: dict[str, Loader] = {}
_CACHE: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def register_loader(scheme: str, loader: Loader) -> None:
    """Make ``<scheme>:<location>`` specs loadable (e.g. ``pkcs11``). Loaders cache themselves."""
    _LOADERS[scheme] = loader


def load_key(spec: str, *, cert: str | None = None, password: bytes | str | None = None
             ) -> KeyMaterial:
    """Load the key named by ``spec`` (see module docstring).

    ``cert`` is a certificate spec or path (``pem:<file>`` or a bare path) for keys
    stored apart from their certificate; ``password`` unlocks PKCS#12 or encrypted PEM.
    """
    scheme, sep, location = spec.partition(":")
    if not sep or not location:
        raise KeyLoadError(f"key spec {spec!r} is not <scheme>:<location>", spec=spec)
    loader = _LOADERS.get(scheme)
    if loader is None:
        raise KeyLoadError(f"no loader for key scheme {scheme!r}", spec=spec,
                           schemes=sorted(_LOADERS))
    cert_path = _strip_scheme(cert) if cert else None
    pw = password.encode() if isinstance(password, str) else password
    return loader(location, cert_path, pw)


def load_pem_key(path: str | Path, *, cert: str | Path | None = None,
                 password: bytes | str | None = None) -> KeyMaterial:
    return load_key(f"pem:{path}", cert=str(cert) if cert else None, password=password)


def load_pkcs12(path: str | Path, password: bytes | str | None) -> KeyMaterial:
    return load_key(f"pkcs12:{path}", password=password)


def load_certificates(path: str | Path) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM (one or many) or DER file, parsed once per file version."""
    p = Path(path)
    return _cached(("certs", p), (p,), lambda: _parse_certificates(p))  # type: ignore[no-any-return]


def load_certificate(path: str | Path) -> x509.Certificate:
    certs = load_certificates(path)
    if not certs:
        raise KeyLoadError(f"no certificate in {path}", path=str(path))
    return certs[0]


def _strip_scheme(spec: str) -> str:
    return spec[4:] if spec.startswith("pem:") else spec


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise KeyLoadError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
    return st.st_mtime_ns, st.st_size


def _cached(key: tuple[Any, ...], files: tuple[Path, ...], parse: Callable[[], Any]) -> Any:
    full_key = key + tuple(_stamp(f) for f in files)
    with _LOCK:
        hit = _CACHE.get(full_key)
        if hit is not None:
            return hit
    value = parse()
    with _LOCK:
        # Drop stale versions of the same files so that rotation does not leak memory.
        for k in [k for k in _CACHE if k[: len(key)] == key and k != full_key]:
            del _CACHE[k]
        return _CACHE.setdefault(full_key, value)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc


def _parse_certificates(path: Path) -> tuple[x509.Certificate, ...]:
    data = _read(path)
    try:
        if b"-----BEGIN" in data:
            if b"-----BEGIN CERTIFICATE-----" not in data:
                return ()
            return tuple(x509.load_pem_x509_certificates(data))
        return (x509.load_der_x509_certificate(data),)
    except ValueError as exc:
        raise KeyLoadError(f"{path} holds no readable certificate: {exc}", path=str(path)) from exc


def _load_pem(location: str, cert_path: str | None, password: bytes | None) -> KeyMaterial:
    key_file = Path(location)
    files = (key_file,) + ((Path(cert_path),) if cert_path else ())
    return _cached(  # type: ignore[no-any-return]
        ("pem", key_file, cert_path, password), files,
        lambda: _parse_pem(key_file, Path(cert_path) if cert_path else None, password),
    )


def _parse_pem(key_file: Path, cert_file: Path | None, password: bytes | None) -> KeyMaterial:
    data = _read(key_file)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{key_file} holds no usable private key: {exc}",
                           path=str(key_file)) from exc
    certs: tuple[x509.Certificate, ...] = ()
    if cert_file is not None:
        certs = _parse_certificates(cert_file)
    elif b"-----BEGIN CERTIFICATE-----" in data:
        certs = tuple(x509.load_pem_x509_certificates(data))
    if not certs:
        raise KeyLoadError(f"no certificate for the key in {key_file}", path=str(key_file))
    return _assemble(key, list(certs), f"pem:{key_file}")


def _load_pkcs12(location: str, cert_path: str | None, password: bytes | None) -> KeyMaterial:
    p12 = Path(location)
    return _cached(("pkcs12", p12, password), (p12,),  # type: ignore[no-any-return]
                   lambda: _parse_pkcs12(p12, password))


def _parse_pkcs12(path: Path, password: bytes | None) -> KeyMaterial:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(_read(path), password)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"cannot open PKCS#12 {path} (wrong password?)",
                           path=str(path)) from exc
    if key is None or cert is None:
        raise KeyLoadError(f"PKCS#12 {path} lacks a key or certificate", path=str(path))
    return _assemble(key, [cert, *extra], f"pkcs12:{path}")


def _assemble(key: Any, certs: list[x509.Certificate], source: str) -> KeyMaterial:
    """Pick the certificate that matches the key; the rest is its chain."""
    public = key.public_key()
    leaf = next((c for c in certs if c.public_key() == public), None)
    if leaf is None:
        raise KeyLoadError(f"no certificate in {source} matches its private key", spec=source)
    chain = tuple(c for c in certs if c is not leaf)
    return KeyMaterial(key=key, certificate=leaf, chain=chain, source=source)


register_loader("pem", _load_pem)
register_loader("pkcs12", _load_pkcs12)
