"""Object identifiers of the Spanish and European certificate profiles.

One place for every OID eLocal reads or writes, so that the login code, the
validator and the development CA agree on what a citizen, employee or seal
certificate looks like (ETSI EN 319 412, FNMT-RCM, DNIe, AGE 2016/2012 profiles).
"""

from __future__ import annotations

from cryptography.x509 import ObjectIdentifier
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

# --- FNMT-RCM -----------------------------------------------------------------------------
#: Fields of the FNMT subjectAltName directoryName.
FNMT_NAME = ObjectIdentifier("1.3.6.1.4.1.5734.1.1")
FNMT_SURNAME1 = ObjectIdentifier("1.3.6.1.4.1.5734.1.2")
FNMT_SURNAME2 = ObjectIdentifier("1.3.6.1.4.1.5734.1.3")
FNMT_NIF = ObjectIdentifier("1.3.6.1.4.1.5734.1.4")
#: FNMT "AC FNMT Usuarios" natural-person (citizen) certificate policy.
FNMT_CITIZEN_POLICY = ObjectIdentifier("1.3.6.1.4.1.5734.3.10.1")

# --- DNIe ---------------------------------------------------------------------------------
DNIE_SIGNING_POLICY = ObjectIdentifier("2.16.724.1.2.2.2.3")
DNIE_AUTHENTICATION_POLICY = ObjectIdentifier("2.16.724.1.2.2.2.4")

# --- AGE public-administration profiles -----------------------------------------------------
#: Prefixes of the empleado público SAN fields (2016: high / medium level; 2012 profile).
AGE_EMPLEADO_HIGH = "2.16.724.1.3.5.7.1"
AGE_EMPLEADO_MEDIUM = "2.16.724.1.3.5.7.2"
AGE_EMPLEADO_2012 = "2.16.724.1.3.5.3"
AGE_EMPLEADO_PREFIXES = (AGE_EMPLEADO_HIGH, AGE_EMPLEADO_MEDIUM, AGE_EMPLEADO_2012)
#: Prefixes of the sello electrónico SAN fields (2016: high / medium level; 2012 profile).
AGE_SELLO_HIGH = "2.16.724.1.3.5.6.1"
AGE_SELLO_MEDIUM = "2.16.724.1.3.5.6.2"
AGE_SELLO_2012 = "2.16.724.1.3.5.2"
AGE_SELLO_PREFIXES = (AGE_SELLO_HIGH, AGE_SELLO_MEDIUM, AGE_SELLO_2012)

#: Suffixes of the empleado público fields (append to a prefix with ``age_field``).
EMPLEADO_TYPE = 1
EMPLEADO_ENTITY = 2
EMPLEADO_ENTITY_CIF = 3
EMPLEADO_DNI = 4
EMPLEADO_PERSONNEL_NUMBER = 5
EMPLEADO_NAME = 6
EMPLEADO_SURNAME1 = 7
EMPLEADO_SURNAME2 = 8
EMPLEADO_EMAIL = 9
EMPLEADO_UNIT = 10
EMPLEADO_POST = 11
#: Suffixes of the sello electrónico fields.
SELLO_TYPE = 1
SELLO_ENTITY = 2
SELLO_ENTITY_CIF = 3
SELLO_SYSTEM_NAME = 5


def age_field(prefix: str, suffix: int) -> ObjectIdentifier:
    """The OID of one AGE profile field, e.g. ``age_field(AGE_EMPLEADO_HIGH, EMPLEADO_UNIT)``."""
    return ObjectIdentifier(f"{prefix}.{suffix}")


# --- ETSI EN 319 412-5 qualified-certificate statements ------------------------------------
QC_STATEMENTS = ObjectIdentifier("1.3.6.1.5.5.7.1.3")
QC_COMPLIANCE = ObjectIdentifier("0.4.0.1862.1.1")
QC_SSCD = ObjectIdentifier("0.4.0.1862.1.4")
QC_PDS = ObjectIdentifier("0.4.0.1862.1.5")
QC_TYPE = ObjectIdentifier("0.4.0.1862.1.6")
QC_TYPE_ESIGN = ObjectIdentifier("0.4.0.1862.1.6.1")
QC_TYPE_ESEAL = ObjectIdentifier("0.4.0.1862.1.6.2")
QC_TYPE_WEB = ObjectIdentifier("0.4.0.1862.1.6.3")
#: RFC 3739 id-qcs-pkixQCSyntax-v2: carries the EN 319 412-1 semantics identifier.
QCS_PKIX_SYNTAX_V2 = ObjectIdentifier("1.3.6.1.5.5.7.11.2")
#: EN 319 412-1 semantics identifiers (natural person ``IDCES-…``, legal person ``VATES-…``).
SEMANTICS_NATURAL = ObjectIdentifier("0.4.0.194121.1.1")
SEMANTICS_LEGAL = ObjectIdentifier("0.4.0.194121.1.2")

# --- ETSI EN 319 411 certificate policies --------------------------------------------------
QCP_N = ObjectIdentifier("0.4.0.194112.1.0")
QCP_L = ObjectIdentifier("0.4.0.194112.1.1")
QCP_N_QSCD = ObjectIdentifier("0.4.0.194112.1.2")
QCP_L_QSCD = ObjectIdentifier("0.4.0.194112.1.3")
QCP_W = ObjectIdentifier("0.4.0.194112.1.4")

# --- Subject attributes and extensions ------------------------------------------------------
#: X.520 organizationIdentifier (``VATES-<CIF>`` for Spanish legal persons).
ORGANIZATION_IDENTIFIER = NameOID.ORGANIZATION_IDENTIFIER
SERIAL_NUMBER = NameOID.SERIAL_NUMBER
OCSP_NOCHECK = ExtensionOID.OCSP_NO_CHECK
OCSP_SIGNING = ExtendedKeyUsageOID.OCSP_SIGNING
TIME_STAMPING = ExtendedKeyUsageOID.TIME_STAMPING
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
EMAIL_PROTECTION = ExtendedKeyUsageOID.EMAIL_PROTECTION

__all__ = [name for name in dir() if name.isupper() and not name.startswith("_")] + ["age_field"]
