"""Fixtures for certificate login: a throw-away PKI with shapes the demo PKI does not have.

``TestPki`` issues certificates from its own root and issuing CA. Its AIA and CRL
distribution points point at a port where nothing listens, so revocation can never
be established for its certificates: exactly what the ``revocation_unavailable`` and
soft-fail tests need, and a reason for other tests to use a soft-fail municipality.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from api.context import Context
from certs import oids, qcstatements
from infra import tenancy
from tests.conftest import free_port
from tests.logins import challenge_login, sign

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


@dataclass
class Issued:
    cert: x509.Certificate
    key: Key

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class TestPki:
    """Root → issuing CA → leaves, with dead revocation URLs."""

    __test__ = False

    def __init__(self, label: str = "Test") -> None:
        self.now = datetime.now(UTC)
        self.dead = f"http://127.0.0.1:{free_port()}"
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = name((NameOID.COUNTRY_NAME, "ES"), (NameOID.COMMON_NAME, f"{label} Root"))
        self.root = Issued(
            self._build(
                root_name,
                root_name,
                root_key.public_key(),
                root_key,
                [
                    (x509.BasicConstraints(ca=True, path_length=1), True),
                    (
                        x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                        True,
                    ),
                ],
                days_before=3650,
                days_after=3650,
            ),
            root_key,
        )
        inter_key = ec.generate_private_key(ec.SECP256R1())
        self.issuing = Issued(
            self._build(
                name((NameOID.COUNTRY_NAME, "ES"), (NameOID.COMMON_NAME, f"{label} Issuing")),
                root_name,
                inter_key.public_key(),
                root_key,
                [
                    (x509.BasicConstraints(ca=True, path_length=0), True),
                    (
                        x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                        True,
                    ),
                ],
                days_before=3000,
                days_after=3000,
            ),
            inter_key,
        )

    def _build(
        self,
        subject: x509.Name,
        issuer: x509.Name,
        public_key: object,
        signer: Key,
        extensions: Iterable[tuple[x509.ExtensionType, bool]],
        *,
        days_before: int = 1,
        days_after: int = 365,
    ) -> x509.Certificate:
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=days_before))
            .not_valid_after(self.now + timedelta(days=days_after))
        )
        for ext, critical in extensions:
            b = b.add_extension(ext, critical)
        return b.sign(signer, hashes.SHA256())

    def revocation_pointers(self) -> list[tuple[x509.ExtensionType, bool]]:
        return [
            (
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(f"{self.dead}/ocsp"),
                        )
                    ]
                ),
                False,
            ),
            (
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(f"{self.dead}/issuing.crl")],
                            None,
                            None,
                            None,
                        )
                    ]
                ),
                False,
            ),
        ]

    def leaf(
        self,
        subject: x509.Name,
        *,
        san: list[x509.GeneralName] | None = None,
        digital_signature: bool = True,
        eku: list[x509.ObjectIdentifier] | None = None,
        policies: list[str] | None = None,
        qc: qcstatements.QcStatements | None = None,
        days_before: int = 1,
        days_after: int = 365,
        revocation: bool = True,
        key: Key | None = None,
    ) -> Issued:
        key = key or ec.generate_private_key(ec.SECP256R1())
        exts: list[tuple[x509.ExtensionType, bool]] = [
            (
                x509.KeyUsage(
                    digital_signature,
                    not digital_signature,
                    not digital_signature,
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                ),
                True,
            )
        ]
        if san:
            exts.append((x509.SubjectAlternativeName(san), False))
        if eku:
            exts.append((x509.ExtendedKeyUsage(eku), False))
        if policies:
            exts.append(
                (
                    x509.CertificatePolicies(
                        [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]
                    ),
                    False,
                )
            )
        if qc is not None:
            exts.append((qcstatements.extension(qc), False))
        if revocation:
            exts.extend(self.revocation_pointers())
        cert = self._build(
            subject,
            self.issuing.cert.subject,
            key.public_key(),
            self.issuing.key,
            exts,
            days_before=days_before,
            days_after=days_after,
        )
        return Issued(cert, key)

    def citizen(self, nif: str = "12345678Z", **kw: object) -> Issued:
        return self.leaf(
            name(
                (NameOID.COUNTRY_NAME, "ES"),
                (NameOID.SERIAL_NUMBER, f"IDCES-{nif}"),
                (NameOID.SURNAME, "PRUEBA PRUEBA"),
                (NameOID.GIVEN_NAME, "ANA"),
                (NameOID.COMMON_NAME, f"PRUEBA PRUEBA ANA - {nif}"),
            ),
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
            **kw,
        )  # type: ignore[arg-type]

    def write(self, directory: Path) -> Path:
        """A trust-store folder: the root (anchor) and the issuing CA (to complete paths)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "root.pem").write_bytes(self.root.pem)
        (directory / "issuing.pem").write_bytes(self.issuing.pem)
        return directory


@pytest.fixture(scope="session")
def test_pki() -> TestPki:
    return TestPki()


@pytest.fixture
def test_municipality(ctx: Context, test_pki: TestPki, tmp_path: Path) -> str:
    """A municipality trusting only ``test_pki``; revocation soft-fail off by default."""
    root = test_pki.write(tmp_path / "trust")
    code = "L01289974"
    with ctx.transaction() as s:
        tenancy.add_municipality(
            s, code, "Ayuntamiento de Pruebas", cif="P2899700E", trust_store=[str(root)]
        )
    return code


def set_soft_fail(ctx: Context, code: str, soft: bool = True) -> None:
    with ctx.transaction() as s:
        tenancy.get_municipality(s, code).revocation_soft_fail = soft


@pytest.fixture
def soft(ctx: Context, test_municipality: str) -> str:
    """``test_municipality`` with revocation soft-fail, for checks other than revocation."""
    set_soft_fail(ctx, test_municipality)
    return test_municipality


def code_of(r: Any) -> str:
    """The stable code of a problem+json answer."""
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["code"])


def set_policy_allow_list(ctx: Context, code: str, policies: list[str]) -> None:
    with ctx.transaction() as s:
        tenancy.get_municipality(s, code).policy_allow_list = policies


# --- eLocal's own listeners (as ``elocal serve`` runs them) --------------------------------


class Servers:
    """``api.server``'s HTTP and HTTPS listeners on free ports, in one background loop."""

    def __init__(self, ctx: Context) -> None:
        from api.app import create_app
        from api.server import http_config, https_config

        app = create_app(ctx=ctx, migrate=False)
        self.http_port, self.https_port = free_port(), free_port()
        tls = https_config(app, ctx, port=self.https_port, log_level="warning")
        assert tls is not None, "the demo PKI has no TLS server certificate"
        self.configs = [http_config(app, ctx, port=self.http_port, log_level="warning"), tls]
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.https_url = f"https://127.0.0.1:{self.https_port}"
        self._servers: list[Any] = []

    def start(self) -> None:
        import asyncio
        import threading
        import time

        import uvicorn

        self._servers = [uvicorn.Server(c) for c in self.configs]

        async def main() -> None:
            await asyncio.gather(*(s.serve() for s in self._servers))

        self._thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not all(s.started for s in self._servers):
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("eLocal listeners did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        for s in self._servers:
            s.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def servers(session_ctx: Context, live_server: Any) -> Iterator[Servers]:
    """Needs ``live_server`` too: the demo certificates' OCSP, CRL and AIA URLs point there."""
    s = Servers(session_ctx)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def person_pems(
    session_ctx: Context, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, Path]]:
    """(certificate, key) PEM files converted from each demo PKCS#12 file (password demo)."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    out_dir = tmp_path_factory.mktemp("p12")
    people = session_ctx.settings.pki_dir / "people"
    out: dict[str, tuple[Path, Path]] = {}
    for p12 in sorted(people.glob("*.p12")):
        key, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), b"demo")
        assert key is not None and cert is not None
        c, k = out_dir / f"{p12.stem}.pem", out_dir / f"{p12.stem}.key.pem"
        c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out[p12.stem] = (c, k)
    return out


def tls_client(ctx: Context, cert: tuple[Path, Path] | None = None, **kw: Any) -> Any:
    """An httpx client trusting the demo root, presenting ``cert`` if given."""
    import ssl

    import httpx

    context = ssl.create_default_context(cafile=str(ctx.settings.pki_dir / "root.pem"))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.Client(verify=context, timeout=30, **kw)


__all__ = [
    "Issued",
    "Servers",
    "TestPki",
    "challenge_login",
    "name",
    "oids",
    "set_policy_allow_list",
    "set_soft_fail",
    "sign",
    "tls_client",
]
