"""The receipt (justificante) of an entry or exit: its facts, PDF and XML.

Both forms carry the same facts: number, real and effective instants, office,
presenter, registrar, interested parties, subject, destination, the table of
attachments with their SHA-256 digests (Ley 39/2015 art. 16.3), the Merkle log
leaf index and checkpoint, and the verification code with its URL. The PDF is
sealed PAdES B-T with a visible stamp, the XML XAdES B-T enveloped, both with the
municipality's seal, by whatever ``Sealer`` the composition root provides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from lxml import etree

from registry import receiptpdf
from registry.leaves import instant
from registry.models import ENTRY, RegistryEntry
from registry.officialtime import MADRID

RECEIPT_NS = "urn:elocal:registry:receipt:1"


class Sealer(Protocol):
    """What the registry needs from the signing service."""

    def seal_pdf(self, municipality_code: str, pdf: bytes, *, level: str = ...,
                 stamp: Any = ...) -> bytes: ...

    def seal_xml(self, municipality_code: str, xml: bytes, *, level: str = ...,
                 packaging: str = ...) -> bytes: ...


def _local(value: datetime) -> str:
    return value.astimezone(MADRID).strftime("%d/%m/%Y %H:%M:%S.%f")[:-3] + " (Europe/Madrid)"


def _person(p: dict[str, Any] | None) -> str:
    if not p:
        return "-"
    ident = " ".join(x for x in (p.get("id_type"), p.get("id_number")) if x)
    text = p.get("name") or p.get("id_number") or "-"
    if ident:
        text += f" ({ident})"
    if p.get("entity_name") or p.get("entity_cif"):
        text += f", en representación de {p.get('entity_name') or ''} ({p.get('entity_cif')})"
    if p.get("office"):
        text += f", oficina {p['office']}"
    return text


def facts(entry: RegistryEntry, *, municipality_name: str, municipality_cif: str | None,
          office_name: str, unit_names: dict[str, str], checkpoint: str,
          verification_url: str) -> dict[str, Any]:
    """Everything the receipt states, in one JSON-able dict (also the XML's source)."""
    return {
        "kind": "entrada" if entry.kind == ENTRY else "salida",
        "municipality": {"code": entry.municipality_code, "name": municipality_name,
                         "cif": municipality_cif},
        "office": {"code": entry.office_code, "name": office_name},
        "number": entry.display_number,
        "sequence": entry.number,
        "year": entry.year,
        "registered_at": instant(entry.registered_at),
        "effective_at": instant(entry.effective_at),
        "presenter": entry.presenter,
        "registrar": entry.registrar,
        "interested": entry.interested,
        "epigrafe": entry.epigrafe,
        "subject": entry.subject,
        "destination_unit": (
            {"code": entry.destination_unit,
             "name": unit_names.get(entry.destination_unit, "")}
            if entry.destination_unit else None
        ),
        "origin_unit": (
            {"code": entry.origin_unit, "name": unit_names.get(entry.origin_unit, "")}
            if entry.origin_unit else None
        ),
        "sia_code": entry.sia_code,
        "expediente": entry.expediente,
        "expone": entry.expone,
        "solicita": entry.solicita,
        "rectifies": entry.rectifies_id,
        "attachments": [
            {"position": a.position + 1, "name": a.name, "size": a.size, "mime": a.mime,
             "sha256": a.sha256}
            for a in entry.attachments
        ],
        "log": {"leaf_index": entry.leaf_index, "checkpoint": checkpoint},
        "verification": {"code": entry.verification_code, "url": verification_url},
    }


def render_pdf(f: dict[str, Any]) -> bytes:
    kind = f["kind"]
    fields: list[tuple[str, str]] = [
        (f"Número de registro de {kind}", f["number"]),
        ("Oficina de registro", f"{f['office']['code']} - {f['office']['name']}"),
        ("Fecha y hora de presentación (instante real)",
         f"{_local_dt(f['registered_at'])}  [{f['registered_at']}]"),
        ("Fecha y hora efectiva (art. 31 Ley 39/2015)",
         f"{_local_dt(f['effective_at'])}  [{f['effective_at']}]"),
        ("Presentado por", _person(f["presenter"])),
    ]
    if f["registrar"]:
        fields.append(("Registrado por", _person(f["registrar"])))
    fields.append(("Interesados" if kind == "entrada" else "Destinatarios",
                   "; ".join(_person(p) for p in f["interested"]) or "-"))
    fields += [("Epígrafe", f["epigrafe"]), ("Asunto", f["subject"])]
    if f["destination_unit"]:
        u = f["destination_unit"]
        fields.append(("Unidad de destino", f"{u['code']} - {u['name']}"))
    if f["origin_unit"]:
        u = f["origin_unit"]
        fields.append(("Unidad de origen", f"{u['code']} - {u['name']}"))
    if f["sia_code"]:
        fields.append(("Procedimiento (código SIA)", f["sia_code"]))
    if f["expediente"]:
        fields.append(("Expediente", f["expediente"]))
    if f["rectifies"]:
        fields.append(("Rectifica el asiento", f["rectifies"]))
    if f["expone"]:
        fields.append(("Expone", f["expone"]))
    if f["solicita"]:
        fields.append(("Solicita", f["solicita"]))
    rows = [
        (f"{a['position']}. {a['name']}  {a['size']} bytes  {a['mime']}",
         f"SHA-256: {a['sha256']}")
        for a in f["attachments"]
    ]
    footer = [
        ("Registro de transparencia (RFC 9162)",
         f"Hoja número {f['log']['leaf_index']} del registro de {f['municipality']['code']}"),
        ("Punto de control firmado", f["log"]["checkpoint"]),
        ("Prueba de inclusión (SHA-256, base64)",
         " ".join(f["log"].get("inclusion_proof", [])) or "la hoja es el único nodo del árbol"),
        ("Código de verificación", f["verification"]["code"]),
        ("Verificación", f["verification"]["url"]),
    ]
    muni = f["municipality"]
    header = [muni["name"] + (f" (CIF {muni['cif']})" if muni.get("cif") else ""),
              f"Registro electrónico general - {muni['code']}"]
    return receiptpdf.render(
        f"Justificante de registro de {kind}", header, fields,
        "Documentos aportados", ["N.º / nombre / tamaño / tipo", "huella SHA-256"], rows, footer,
    )


def _local_dt(iso: str) -> str:
    return _local(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def render_xml(f: dict[str, Any]) -> bytes:
    """The receipt as XML in eLocal's receipt namespace (sealed XAdES enveloped)."""
    E = f"{{{RECEIPT_NS}}}"
    root = etree.Element(E + "Justificante", nsmap={None: RECEIPT_NS})
    root.set("tipo", f["kind"])

    def add(parent: etree._Element, tag: str, value: Any, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, E + tag, **attrs)
        if value is not None:
            el.text = str(value)
        return el

    muni = add(root, "Ayuntamiento", f["municipality"]["name"], codigo=f["municipality"]["code"])
    if f["municipality"].get("cif"):
        muni.set("cif", f["municipality"]["cif"])
    add(root, "Oficina", f["office"]["name"], codigo=f["office"]["code"])
    add(root, "NumeroRegistro", f["number"], anio=str(f["year"]), secuencia=str(f["sequence"]))
    add(root, "InstantePresentacion", f["registered_at"])
    add(root, "InstanteEfectivo", f["effective_at"])

    def person(tag: str, p: dict[str, Any] | None) -> None:
        if not p:
            return
        el = add(root, tag, None)
        for key in ("id_type", "id_number", "name", "capacity", "entity_cif", "entity_name",
                    "office", "email"):
            if p.get(key):
                add(el, "".join(w.capitalize() for w in key.split("_")), p[key])

    person("Presentador", f["presenter"])
    person("Registrador", f["registrar"])
    for p in f["interested"]:
        person("Interesado", p)
    add(root, "Epigrafe", f["epigrafe"])
    add(root, "Asunto", f["subject"])
    for tag, unit in (("UnidadDestino", f["destination_unit"]),
                      ("UnidadOrigen", f["origin_unit"])):
        if unit:
            add(root, tag, unit["name"], codigo=unit["code"])
    for tag, key in (("CodigoSIA", "sia_code"), ("Expediente", "expediente"),
                     ("Rectifica", "rectifies"), ("Expone", "expone"),
                     ("Solicita", "solicita")):
        if f[key]:
            add(root, tag, f[key])
    docs = add(root, "Documentos", None)
    for a in f["attachments"]:
        doc = add(docs, "Documento", None, orden=str(a["position"]))
        add(doc, "Nombre", a["name"])
        add(doc, "Tamano", a["size"])
        add(doc, "TipoMIME", a["mime"])
        add(doc, "Huella", a["sha256"], algoritmo="http://www.w3.org/2001/04/xmlenc#sha256")
    log = add(root, "RegistroTransparencia", None)
    add(log, "IndiceHoja", f["log"]["leaf_index"])
    add(log, "PuntoControl", f["log"]["checkpoint"])
    proof = add(log, "PruebaInclusion", None)
    for node in f["log"].get("inclusion_proof", []):
        add(proof, "Nodo", node)
    add(root, "CodigoVerificacion", f["verification"]["code"], url=f["verification"]["url"])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
