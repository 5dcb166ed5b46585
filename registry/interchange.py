"""Registry entries in the formats other administrations read: SICRES 3.0 and ENI.

``sicres3`` renders an entry or exit as the ``Fichero_Intercambio_SICRES_3`` that SIR
(Sistema de Interconexión de Registros) exchanges between registries, with every
attachment inside it; ``eni`` renders the entry's sealed receipt as an ENI
``documento-e`` that any archive or expediente system (INSIDE, Archive) can take in.

Both follow the official schemas to the letter. A value that does not fit a
schema constraint is never shortened: shortening a subject, a name or a file name
in a document exchanged between administrations changes what was registered, so
the export fails with ``NotExchangeable`` naming the field, and the registrar can
act on it (rectify the entry, rename the office). Attachment and receipt bytes are
base64-encoded in chunks straight from the blob store into a spooled file, so an
export never holds a whole document, let alone all of them, in memory.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from lxml import etree

from infra.blobs import BlobStore
from registry.errors import AlreadyAnnulled, NotExchangeable, StoredDocumentCorrupted
from registry.models import ENTRY, RegistryEntry
from registry.officialtime import MADRID

SICRES3 = "sicres3"
ENI = "eni"
FORMATS = (SICRES3, ENI)

ENI_DOCUMENT_NS = "http://administracionelectronica.gob.es/ENI/XSD/v1.0/documento-e"
ENI_METADATA_NS = f"{ENI_DOCUMENT_NS}/metadatos"
ENI_CONTENT_NS = f"{ENI_DOCUMENT_NS}/contenido"
ENI_SIGNATURE_NS = "http://administracionelectronica.gob.es/ENI/XSD/v1.0/firma"

#: SICRES 3.0 identity document types. ``O`` (código de origen) is how SIR names an
#: administration by its DIR3 code; ``X`` is another document of a natural person.
_ID_TYPES = {"NIF": "N", "CIF": "C", "NIE": "E", "PASAPORTE": "P", "DIR3": "O", "OTRO": "X"}
#: Parties SICRES names by ``Razon_Social`` rather than by given name and surnames.
_ORGANISATIONS = {"C", "O"}
#: Characters SIR rejects in ``Nombre_Fichero_Anexado``.
_FORBIDDEN_IN_FILE_NAMES = set('\\/?*:|<>";&')
#: Words that belong to the surname that follows them ("de la Fuente").
_PARTICLES = {"de", "del", "la", "las", "los", "y", "i", "da", "das", "do", "dos", "van",
              "von", "der", "di", "san", "santa"}
_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,10}$")
_MIME_EXTENSIONS = {
    "application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png",
    "application/xml": "xml", "text/xml": "xml", "text/plain": "txt",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
_ENI_IDENTIFIER = re.compile(r"^ES_[A-Z0-9]{9}_[0-9]{4}_[A-Za-z0-9]{1,30}$")
_ENI_IDENTIFIER_MAX = 52
#: Multiple of 3, so that the base64 of consecutive chunks concatenates cleanly.
_CHUNK = 3 * 256 * 1024
#: Exports up to this size stay in memory; larger ones spill to a temporary file.
_SPOOL_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Facts:
    """What an export states beyond the entry itself: who keeps the registry."""

    municipality_code: str
    municipality_name: str
    office_code: str
    office_name: str
    unit_names: Mapping[str, str]


@dataclass
class Export:
    """A rendered export: a readable file positioned at its start, and how to serve it."""

    filename: str
    media_type: str
    content: IO[bytes]
    size: int


def render(fmt: str, entry: RegistryEntry, facts: Facts, blobs: BlobStore) -> Export:
    """The entry as ``sicres3`` or its receipt as ``eni``, spooled and ready to stream."""
    if fmt not in FORMATS:
        raise NotExchangeable(f"unknown interchange format {fmt!r}", format=fmt)
    if fmt == SICRES3 and entry.annulled:
        # SICRES 3.0 has no way to say an entry was annulled; sending one would
        # present it to the receiving registry as valid.
        raise AlreadyAnnulled(f"{entry.display_number} is annulled and cannot be exchanged")
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    try:
        if fmt == SICRES3:
            name = f"{write_sicres3(out, entry, facts, blobs)}.xml"
        else:
            name = f"{write_eni_receipt(out, entry, facts, blobs)}.xml"
        size = out.tell()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return Export(filename=name, media_type="application/xml", content=out, size=size)


# -- SICRES 3.0 -------------------------------------------------------------------------

def registry_number(entry: RegistryEntry) -> str:
    """``Numero_Registro_Entrada`` (20 characters): the displayed number when it fits.

    A municipality's template may be longer (it can include the office code); the
    compact ``year/kind/number`` is still unique, because numbers run per office,
    year and kind and the office travels alongside in ``Codigo_Entidad_Registral_Origen``.
    """
    if len(entry.display_number) <= 20:
        return entry.display_number
    compact = f"{entry.year}/{entry.kind}/{entry.number:06d}"
    return _fit(compact, "Numero_Registro_Entrada", 20, "number")


def exchange_id(entry: RegistryEntry) -> str:
    """``Identificador_Intercambio``: ``<office DIR3>_<yy>_<8 digits>``, fixed per entry.

    Entries and exits are numbered separately, so the first digit is the
    ``Tipo_Registro`` (0 entry, 1 exit) and the other seven the number: entry 1 and
    exit 1 of an office and year never share an exchange id.
    """
    if entry.number > 9_999_999:
        raise NotExchangeable(
            f"{entry.display_number}: SICRES 3.0 exchange ids hold numbers up to 9999999",
            field="number", format="SICRES 3.0",
        )
    return (f"{entry.office_code}_{entry.year % 100:02d}_"
            f"{_registry_type(entry)}{entry.number:07d}")


def write_sicres3(out: IO[bytes], entry: RegistryEntry, facts: Facts,
                  blobs: BlobStore) -> str:
    """Write the entry's ``Fichero_Intercambio_SICRES_3``; returns its exchange id.

    Every segment except the attachments' content is built (and checked) first, so
    a value that does not fit fails before a single attachment is encoded.
    """
    exchange = exchange_id(entry)
    head = [_origin(entry, facts), _destination(entry, facts), *_interested(entry),
            _subject(entry)]
    annexes = [(_annex(exchange, i, a.name, a.mime, a.sha256), a.sha256)
               for i, a in enumerate(entry.attachments)]
    tail = [_control(entry, facts, exchange), _form(entry)]
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("Fichero_Intercambio_SICRES_3"):
            for segment in head:
                xf.write(segment)
            for fields, digest in annexes:
                with xf.element("De_Anexo"):
                    for field in fields:
                        xf.write(field)
                    with xf.element("Anexo"):
                        _write_base64(xf, blobs, digest)
            for segment in tail:
                xf.write(segment)
    return exchange


def _registry_type(entry: RegistryEntry) -> str:
    return "0" if entry.kind == ENTRY else "1"


def _fit(value: str, element: str, limit: int, source: str) -> str:
    if len(value) > limit:
        raise NotExchangeable(
            f"{source} has {len(value)} characters; SICRES 3.0 {element} holds at most {limit}",
            field=source, element=element, limit=limit, format="SICRES 3.0",
        )
    return value


def _segment(tag: str, fields: list[tuple[str, str | None, int, str]]) -> etree._Element:
    """A segment with its fields in the order given (the schema's); empty ones left out."""
    segment = etree.Element(tag)
    for name, value, limit, source in fields:
        if value:
            etree.SubElement(segment, name).text = _fit(value, name, limit, source)
    return segment


def _madrid(value: datetime) -> str:
    return value.astimezone(MADRID).strftime("%Y%m%d%H%M%S")


def _origin(entry: RegistryEntry, facts: Facts) -> etree._Element:
    unit = entry.origin_unit
    return _segment("De_Origen_o_Remitente", [
        ("Codigo_Entidad_Registral_Origen", facts.office_code, 21, "office"),
        ("Decodificacion_Entidad_Registral_Origen", facts.office_name, 80, "office.name"),
        ("Numero_Registro_Entrada", registry_number(entry), 20, "number"),
        ("Fecha_Hora_Entrada", _madrid(entry.registered_at), 14, "registered_at"),
        ("Codigo_Unidad_Tramitacion_Origen", unit, 21, "origin_unit"),
        ("Decodificacion_Unidad_Tramitacion_Origen",
         facts.unit_names.get(unit) if unit else None, 80, "origin_unit.name"),
    ])


def _destination(entry: RegistryEntry, facts: Facts) -> etree._Element:
    """Where the entry goes.

    An entry goes to one of the municipality's units through its own registry
    office. An exit to an administration goes to that administration's DIR3 code: its
    registry office is not recorded, and SIR resolves a unit's office from DIR3. An
    exit to people stays in this registry (SIR does not carry it), so the destination
    registry is this office.
    """
    if entry.kind == ENTRY:
        unit = entry.destination_unit
        return _segment("De_Destino", [
            ("Codigo_Entidad_Registral_Destino", facts.office_code, 21, "office"),
            ("Decodificacion_Entidad_Registral_Destino", facts.office_name, 80,
             "office.name"),
            ("Codigo_Unidad_Tramitacion_Destino", unit, 21, "destination_unit"),
            ("Decodificacion_Unidad_Tramitacion_Destino",
             facts.unit_names.get(unit) if unit else None, 80, "destination_unit.name"),
        ])
    for i, p in enumerate(entry.interested):
        if p.get("id_type") == "DIR3" and p.get("id_number"):
            where = f"interested[{i}]"
            return _segment("De_Destino", [
                ("Codigo_Entidad_Registral_Destino", p["id_number"], 21, f"{where}.id_number"),
                ("Decodificacion_Entidad_Registral_Destino", p.get("name"), 80,
                 f"{where}.name"),
                ("Codigo_Unidad_Tramitacion_Destino", p["id_number"], 21, f"{where}.id_number"),
                ("Decodificacion_Unidad_Tramitacion_Destino", p.get("name"), 80,
                 f"{where}.name"),
            ])
    return _segment("De_Destino", [
        ("Codigo_Entidad_Registral_Destino", facts.office_code, 21, "office"),
        ("Decodificacion_Entidad_Registral_Destino", facts.office_name, 80, "office.name"),
    ])


def split_name(name: str) -> tuple[str, str | None, str | None]:
    """Given name, first and second surname of a natural person's full name.

    The registry keeps one name, as the person's certificate gives it ("given names,
    then surnames"); SICRES wants three fields. The last two words (with particles
    such as "de la") are taken as the surnames, which is the Spanish convention. No
    word is ever dropped, so joining the three fields gives the name back.
    """
    groups: list[str] = []
    pending: list[str] = []
    for word in name.split():
        pending.append(word)
        if word.lower() not in _PARTICLES:
            groups.append(" ".join(pending))
            pending = []
    if pending:
        if groups:
            groups[-1] = " ".join([groups[-1], *pending])
        else:
            groups.append(" ".join(pending))
    if len(groups) >= 3:
        return " ".join(groups[:-2]), groups[-2], groups[-1]
    if len(groups) == 2:
        return groups[0], groups[1], None
    return (groups[0] if groups else ""), None, None


def _who(p: dict[str, Any], role: str, source: str
         ) -> list[tuple[str, str | None, int, str]]:
    """Identity fields of an interested party or representative (``role``)."""
    code = _ID_TYPES.get(str(p.get("id_type") or ""))
    number = p.get("id_number") if code else None
    name = str(p.get("name") or "").strip()
    fields: list[tuple[str, str | None, int, str]] = [
        (f"Tipo_Documento_Identificacion_{role}", code, 1, f"{source}.id_type"),
        (f"Documento_Identificacion_{role}", number, 17, f"{source}.id_number"),
    ]
    if code in _ORGANISATIONS:
        return [*fields, (f"Razon_Social_{role}", name, 80, f"{source}.name")]
    given, first, second = split_name(name)
    return [*fields,
            (f"Nombre_{role}", given, 30, f"{source}.name"),
            (f"Primer_Apellido_{role}", first, 30, f"{source}.name"),
            (f"Segundo_Apellido_{role}", second, 30, f"{source}.name")]


def _contact(p: dict[str, Any] | None, role: str, source: str
             ) -> list[tuple[str, str | None, int, str]]:
    p = p or {}
    return [(f"Direccion_{role}", p.get("address"), 160, f"{source}.address"),
            (f"Correo_Electronico_{role}", p.get("email"), 160, f"{source}.email")]


def _interested(entry: RegistryEntry) -> list[etree._Element]:
    """One ``De_Interesado`` per interested party (addressee, for an exit).

    When a representative filed for an entity, the entity is the interested party
    and the presenter its representative, as SICRES records them.
    """
    if not entry.interested:
        raise NotExchangeable("SICRES 3.0 needs at least one interested party",
                              field="interested", format="SICRES 3.0")
    presenter = entry.presenter or {}
    represented = str(presenter.get("entity_cif") or "").upper()
    segments = []
    for i, p in enumerate(entry.interested):
        source = f"interested[{i}]"
        is_entity = bool(represented) and str(p.get("id_number") or "").upper() == represented
        agent = presenter if is_entity and presenter.get("id_number") else None
        fields = _who(p, "Interesado", source)
        if agent is not None:
            fields += _who(agent, "Representante", "presenter")
        fields += _contact(p, "Interesado", source)
        if agent is not None:
            fields += _contact(agent, "Representante", "presenter")
        segments.append(_segment("De_Interesado", fields))
    return segments


def _subject(entry: RegistryEntry) -> etree._Element:
    # The SIA code classifies the subject for the destination only when the
    # destination is this municipality, that is, for entries.
    sia = entry.sia_code if entry.kind == ENTRY else None
    return _segment("De_Asunto", [
        ("Resumen", entry.subject, 240, "subject"),
        ("Codigo_Asunto_Segun_Destino", sia, 16, "sia_code"),
        ("Numero_Expediente", entry.expediente, 80, "expediente"),
    ])


def _extension(name: str, mime: str) -> str:
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    if _EXTENSION.match(suffix):
        return suffix.lower()
    return _MIME_EXTENSIONS.get(mime, "bin")


def _annex(exchange: str, position: int, name: str, mime: str, sha256: str
           ) -> list[etree._Element]:
    """The fields of a ``De_Anexo`` that precede its content.

    ``Identificador_Fichero`` is ``<exchange id>_01_<4-digit sequence>.<extension>``,
    the form SIR checks. ``Validez_Documento`` is 01 (copia): the registry receives
    files as presented and certifies neither originality nor authenticity.
    ``Tipo_Documento`` is 02 (documento adjunto al formulario): the form itself travels
    in ``De_Formulario_Generico``. ``Tipo_MIME`` is optional and holds 20 characters;
    longer types (the OOXML ones) are left to the file extension, which is never lost.
    """
    source = f"attachments[{position}].name"
    bad = sorted(set(name) & _FORBIDDEN_IN_FILE_NAMES)
    if bad:
        raise NotExchangeable(
            f"attachment {name!r} contains {' '.join(bad)}, which SICRES 3.0 file names "
            "may not contain", field=source, format="SICRES 3.0",
        )
    if position >= 9999:
        raise NotExchangeable("SICRES 3.0 numbers at most 9999 attachments",
                              field="attachments", format="SICRES 3.0")
    file_id = f"{exchange}_01_{position + 1:04d}.{_extension(name, mime)}"
    fields: list[tuple[str, str | None, int, str]] = [
        ("Nombre_Fichero_Anexado", name, 80, source),
        ("Identificador_Fichero", file_id, 50, source),
        ("Validez_Documento", "01", 2, source),
        ("Tipo_Documento", "02", 2, source),
    ]
    elements = list(_segment("De_Anexo", fields))
    digest = etree.Element("Hash")
    digest.text = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
    elements.append(digest)
    if len(mime) <= 20:
        kind = etree.Element("Tipo_MIME")
        kind.text = mime
        elements.append(kind)
    return elements


def _control(entry: RegistryEntry, facts: Facts, exchange: str) -> etree._Element:
    """``De_Internos_Control``: 02 (envío) annotation, no physical documentation (3)."""
    registrar = entry.registrar or {}
    return _segment("De_Internos_Control", [
        ("Nombre_Usuario", registrar.get("name"), 80, "registrar.name"),
        ("Identificador_Intercambio", exchange, 33, "number"),
        ("Tipo_Anotacion", "02", 2, "kind"),
        ("Tipo_Registro", _registry_type(entry), 1, "kind"),
        ("Documentacion_Fisica", "3", 1, "attachments"),
        ("Indicador_Prueba", "0", 1, "kind"),
        ("Codigo_Entidad_Registral_Inicio", facts.office_code, 21, "office"),
        ("Decodificacion_Entidad_Registral_Inicio", facts.office_name, 80, "office.name"),
    ])


def _form(entry: RegistryEntry) -> etree._Element:
    # Both elements are required even when empty.
    form = etree.Element("De_Formulario_Generico")
    etree.SubElement(form, "Expone").text = _fit(entry.expone, "Expone", 4000, "expone")
    etree.SubElement(form, "Solicita").text = _fit(entry.solicita, "Solicita", 4000,
                                                   "solicita")
    return form


def _write_base64(xf: Any, blobs: BlobStore, digest: str) -> None:
    """Stream a blob as base64 text, checking it still matches the digest stated for it."""
    check = hashlib.sha256()
    carry = b""
    with blobs.open(digest) as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            check.update(chunk)
            data = carry + chunk
            cut = len(data) - len(data) % 3
            xf.write(base64.b64encode(data[:cut]).decode("ascii"))
            carry = data[cut:]
    xf.write(base64.b64encode(carry).decode("ascii"))
    if check.hexdigest() != digest:
        # The export would state a hash its content does not have.
        raise StoredDocumentCorrupted(f"document {digest} no longer matches its digest",
                                      sha256=digest)


# -- ENI documento-e ---------------------------------------------------------------------

def eni_identifier(entry: RegistryEntry) -> str:
    """``ES_<municipality DIR3>_<yyyy>_<id>``, at most 52 characters.

    The specific id is the receipt's verification code: 24 alphanumerics, unique,
    fixed at registration, and already printed on the receipt this document carries.
    """
    identifier = f"ES_{entry.municipality_code}_{entry.year:04d}_{entry.verification_code}"
    if len(identifier) > _ENI_IDENTIFIER_MAX or not _ENI_IDENTIFIER.match(identifier):
        raise NotExchangeable(f"{identifier!r} is not an ENI document identifier",
                              field="verification_code", format="ENI")
    return identifier


def write_eni_receipt(out: IO[bytes], entry: RegistryEntry, facts: Facts,
                      blobs: BlobStore) -> str:
    """Write the sealed receipt PDF as an ENI ``documento-e``; returns its identifier.

    The metadata say: an original (EE01) produced by the administration, captured at
    the registration instant, of type TD09 (acuse de recibo: the receipt of art. 16.3
    Ley 39/2015 acknowledges what was received and when). The PDF carries its own
    PAdES seal, so the signature block declares TF06 and refers to the content
    instead of repeating the signature.
    """
    identifier = eni_identifier(entry)
    content_id = f"CONTENIDO_{identifier}"
    meta = _eni_metadata(entry, facts, identifier)
    signatures = _eni_signatures(identifier, content_id)
    doc, file = f"{{{ENI_DOCUMENT_NS}}}", f"{{{ENI_CONTENT_NS}}}"
    nsmap = {"enidoc": ENI_DOCUMENT_NS, "enifile": ENI_CONTENT_NS,
             "enidocmeta": ENI_METADATA_NS, "enids": ENI_SIGNATURE_NS}
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(doc + "documento", nsmap=nsmap, Id=identifier):
            with xf.element(file + "contenido", Id=content_id):
                with xf.element(file + "ValorBinario"):
                    _write_base64(xf, blobs, entry.receipt_pdf_sha256)
                with xf.element(file + "NombreFormato"):
                    xf.write("pdf")
            _write_tree(xf, meta)
            _write_tree(xf, signatures)
    return identifier


def _write_tree(xf: Any, element: etree._Element) -> None:
    """Write a built element through ``xf`` so it uses the root's namespace prefixes."""
    with xf.element(element.tag, dict(element.attrib)):
        if element.text:
            xf.write(element.text)
        for child in element:
            _write_tree(xf, child)


def _eni_metadata(entry: RegistryEntry, facts: Facts, identifier: str) -> etree._Element:
    m = f"{{{ENI_METADATA_NS}}}"
    meta = etree.Element(m + "metadatos")
    etree.SubElement(meta, m + "VersionNTI").text = ENI_DOCUMENT_NS
    etree.SubElement(meta, m + "Identificador").text = identifier
    etree.SubElement(meta, m + "Organo").text = facts.municipality_code
    etree.SubElement(meta, m + "FechaCaptura").text = (
        entry.registered_at.astimezone(MADRID).isoformat(timespec="seconds"))
    # true: produced by the administration (false would be a citizen's document).
    etree.SubElement(meta, m + "OrigenCiudadanoAdministracion").text = "true"
    status = etree.SubElement(meta, m + "EstadoElaboracion")
    etree.SubElement(status, m + "ValorEstadoElaboracion").text = "EE01"
    etree.SubElement(meta, m + "TipoDocumental").text = "TD09"
    return meta


def _eni_signatures(identifier: str, content_id: str) -> etree._Element:
    s = f"{{{ENI_SIGNATURE_NS}}}"
    signatures = etree.Element(s + "firmas")
    signature = etree.SubElement(signatures, s + "firma", Id=f"FIRMA_{identifier}",
                                 ref=f"#{content_id}")
    etree.SubElement(signature, s + "TipoFirma").text = "TF06"
    holder = etree.SubElement(etree.SubElement(signature, s + "ContenidoFirma"),
                              s + "FirmaConCertificado")
    etree.SubElement(holder, s + "ReferenciaFirma").text = f"#{content_id}"
    return signatures
