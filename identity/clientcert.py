"""Where a login certificate comes from: the TLS layer, or a trusted reverse proxy.

The TLS layer's certificate arrives in the ASGI scope under the TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``, PEM strings, leaf first); the
eLocal HTTPS listener puts it there (see ``api/server.py``). It is never read from a
request header, except one named ``client_cert_header`` that eLocal honours only when
the TCP peer is a configured trusted proxy. The proxy's chain, if any, is ignored:
eLocal rebuilds the chain from the municipality's trust store.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any
from urllib.parse import unquote

from cryptography import x509

from certs.pathvalidation import MalformedCertificate, load_certificates, parse_certificate

__all__ = [
    "MAX_HEADER_BYTES",
    "certificate_from_header",
    "certificates_from_tls_scope",
    "client_address",
    "is_trusted_proxy",
]

#: A URL-encoded PEM certificate larger than this is not one eLocal will parse.
MAX_HEADER_BYTES = 32 * 1024


def is_trusted_proxy(peer: str | None, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    if not peer or not networks:
        return False
    try:
        ip = ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(
    peer: str | None, forwarded_for: str | None, networks: Sequence[IPv4Network | IPv6Network]
) -> str:
    """The client's address: the TCP peer, or what a trusted proxy says it forwarded for.

    Walks ``X-Forwarded-For`` from the right and stops at the first address that is
    not a trusted proxy, so a client cannot choose its own address by prepending.
    """
    address = peer or "unknown"
    if not forwarded_for or not is_trusted_proxy(peer, networks):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not is_trusted_proxy(hop, networks):
            break
    return address


def certificates_from_tls_scope(scope: Mapping[str, Any]) -> list[x509.Certificate]:
    """The client certificate chain the TLS layer saw (empty if none was presented)."""
    extensions = scope.get("extensions") or {}
    tls = extensions.get("tls") if isinstance(extensions, Mapping) else None
    if not isinstance(tls, Mapping):
        return []
    chain = tls.get("client_cert_chain") or ()
    certs: list[x509.Certificate] = []
    for pem in chain:
        data = pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
        certs.append(parse_certificate(data))
    return certs


def certificate_from_header(value: str) -> list[x509.Certificate]:
    """Certificates from nginx's ``$ssl_client_escaped_cert`` (URL-encoded PEM).

    Also accepts the older ``$ssl_client_cert`` form (PEM with tab-indented lines),
    and plain base64 DER. Only the first certificate is used by callers.
    """
    if len(value) > MAX_HEADER_BYTES:
        raise MalformedCertificate("the client certificate header is too large")
    text = unquote(value).strip()
    if not text:
        raise MalformedCertificate("the client certificate header is empty")
    if "-----BEGIN" in text:
        lines = [line.strip() for line in text.replace("\t", "\n").splitlines()]
        pem = "\n".join(line for line in lines if line)
        # Some proxies turn the PEM newlines into spaces; rebuild them.
        if "\n" not in pem:
            pem = _reflow(pem)
        return load_certificates(pem.encode("ascii", "replace") + b"\n")
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedCertificate("the client certificate header is not PEM or base64") from exc
    return [parse_certificate(der)]


def _reflow(pem: str) -> str:
    out = []
    for block in pem.split("-----END CERTIFICATE-----"):
        if "-----BEGIN CERTIFICATE-----" not in block:
            continue
        body = block.split("-----BEGIN CERTIFICATE-----", 1)[1].replace(" ", "")
        out.append("-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----")
    return "\n".join(out)
