"""First-run set-up: schema, demo PKI and demo municipality.

``elocal init`` (and ``make run``) call ``initialise``; it is idempotent, so a
second run changes nothing and never regenerates keys that already exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from api.context import Context
from api.db import upgrade
from certs.devpki import DevPkiResult, SealSubject, init_dev_pki, record_dev_pki
from certs.pathvalidation import parse_certificate
from certs.profiles import PublicEmployee, identify
from identity import staff
from infra import tenancy
from infra.dir3 import municipality_code


@dataclass(frozen=True)
class DemoMunicipality:
    ine: str
    name: str
    cif: str
    offices: tuple[tuple[str, str], ...]
    units: tuple[tuple[str, str], ...]
    holidays: tuple[tuple[date, str, str], ...]

    @property
    def code(self) -> str:
        return municipality_code(self.ine)


#: Fictitious municipalities (INE codes 28998 and 28999 are unassigned) used by the demo.
DEMO_MUNICIPALITIES = (
    DemoMunicipality(
        ine="28999",
        name="Ayuntamiento de Villademo",
        cif="P2899900A",
        offices=(("O00099901", "Oficina de Asistencia en Materia de Registros de Villademo"),),
        units=(
            ("LA0099901", "Alcaldía"),
            ("LA0099902", "Urbanismo"),
            ("LA0099903", "Hacienda y Tributos"),
        ),
        holidays=((date(2026, 5, 15), "local", "San Isidro"),
                  (date(2026, 9, 8), "local", "Fiestas patronales")),
    ),
    DemoMunicipality(
        ine="28998",
        name="Ayuntamiento de Prueba del Monte",
        cif="P2899800C",
        offices=(("O00099801", "Oficina de Registro de Prueba del Monte"),),
        units=(("LA0099801", "Secretaría"),),
        holidays=((date(2026, 7, 25), "local", "Santiago Apóstol"),),
    ),
)

#: National holidays common to every demo municipality (Europe/Madrid calendar).
NATIONAL_HOLIDAYS_2026 = (
    (date(2026, 1, 1), "Año Nuevo"),
    (date(2026, 1, 6), "Epifanía del Señor"),
    (date(2026, 4, 3), "Viernes Santo"),
    (date(2026, 5, 1), "Fiesta del Trabajo"),
    (date(2026, 8, 15), "Asunción de la Virgen"),
    (date(2026, 10, 12), "Fiesta Nacional de España"),
    (date(2026, 12, 8), "Inmaculada Concepción"),
    (date(2026, 12, 25), "Natividad del Señor"),
    (date(2027, 1, 1), "Año Nuevo"),
    (date(2027, 1, 6), "Epifanía del Señor"),
)
REGIONAL_HOLIDAYS_2026 = ((date(2026, 5, 2), "Fiesta de la Comunidad de Madrid"),)

DEMO_CODE = DEMO_MUNICIPALITIES[0].code
SECOND_CODE = DEMO_MUNICIPALITIES[1].code


def seed_municipalities(ctx: Context) -> list[str]:
    """Create the demo municipalities that are missing; returns their codes."""
    codes = []
    with ctx.transaction() as s:
        for spec in DEMO_MUNICIPALITIES:
            code = spec.code
            codes.append(code)
            if s.get(tenancy.Municipality, code) is not None:
                continue
            tenancy.add_municipality(s, code, spec.name, cif=spec.cif)
            for ocode, oname in spec.offices:
                tenancy.add_office(s, code, ocode, oname)
            for ucode, uname in spec.units:
                tenancy.add_unit(s, code, ucode, uname)
            for day, name in NATIONAL_HOLIDAYS_2026:
                tenancy.add_non_working_day(s, code, day, "national", name)
            for day, name in REGIONAL_HOLIDAYS_2026:
                tenancy.add_non_working_day(s, code, day, "regional", name)
            for day, scope, name in spec.holidays:
                tenancy.add_non_working_day(s, code, day, scope, name)
    return codes


def initialise(ctx: Context, *, demo: bool = True) -> None:
    """Migrate the database and, with ``demo``, create the demo municipalities."""
    upgrade(ctx.engine)
    if demo:
        seed_municipalities(ctx)
        initialise_pki(ctx)
        grant_demo_staff(ctx)
        initialise_oidc(ctx)


def initialise_pki(ctx: Context, subjects: Sequence[SealSubject] | None = None) -> DevPkiResult:
    """Create the dev PKI, record it for CRL/OCSP and give each municipality its seal.

    ``subjects`` defaults to the demo municipalities (the first employs the sample
    public employee). Seal and trust-store settings are only filled in where
    empty, so that an operator's own configuration survives a re-run.
    """
    if subjects is None:
        subjects = [SealSubject(m.code, m.name, m.cif) for m in DEMO_MUNICIPALITIES]
    result = init_dev_pki(ctx.settings.pki_dir, ctx.settings.public_url, subjects)
    with ctx.transaction() as s:
        record_dev_pki(s, result)
        for subject in subjects:
            muni = s.get(tenancy.Municipality, subject.code)
            if muni is None:
                continue
            key, cert, _ = ctx.pki.seal_paths(subject.code)
            if not muni.seal_key:
                muni.seal_key = f"pem:{key.resolve()}"
                muni.seal_cert = str(cert.resolve())
            if not muni.trust_store:
                muni.trust_store = [str(ctx.pki.root_path.resolve())]
    return result


def grant_demo_staff(ctx: Context) -> None:
    """Make the demo public employee a registrar of the first demo municipality."""
    employee = identify(parse_certificate(
        (ctx.settings.pki_dir / "people" / "employee.pem").read_bytes()))
    if isinstance(employee, PublicEmployee):
        with ctx.transaction() as s:
            staff.grant(s, DEMO_CODE, employee.nif, "registrar")


def initialise_oidc(ctx: Context) -> None:
    """Signing keys and a demo OpenID client (public, PKCE) for the first demo municipality."""
    from identity.oidc import ensure_keys, register_client, vault_for
    from identity.oidc.models import OidcClient

    with ctx.transaction() as s:
        ensure_keys(s, vault_for(ctx.settings.data_dir))
        if s.get(OidcClient, "demo-portal") is None:
            register_client(s, DEMO_CODE, "Portal del Ayuntamiento de Villademo",
                            ["http://127.0.0.1:8080/callback"], client_id="demo-portal",
                            public=True, post_logout_redirect_uris=["http://127.0.0.1:8080/"])
