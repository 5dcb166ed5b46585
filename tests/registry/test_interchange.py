"""Exporting entries as SICRES 3.0 and receipts as ENI documents, checked against the
official schemas."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from lxml import etree

from identity.sessions import Principal
from tests.conftest import shared_path
from tests.registry.conftest import OTHER_NIF, entry_body, minimal_pdf, principal, submit

ENI = {
    "doc": "http://administracionelectronica.gob.es/ENI/XSD/v1.0/documento-e",
    "meta": "http://administracionelectronica.gob.es/ENI/XSD/v1.0/documento-e/metadatos",
    "file": "http://administracionelectronica.gob.es/ENI/XSD/v1.0/documento-e/contenido",
    "sig": "http://administracionelectronica.gob.es/ENI/XSD/v1.0/firma",
}


@cache
def _schema(*parts: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(shared_path("corpus", "xsd", *parts))))


def _valid(response: httpx.Response, *schema: str) -> etree._Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    xsd = _schema(*schema)
    assert xsd.validate(root), xsd.error_log
    return root


def sicres3(response: httpx.Response) -> etree._Element:
    return _valid(response, "sicres3", "SICRES3_INTERCAMBIO_APL.xsd")


def eni(response: httpx.Response) -> etree._Element:
    return _valid(response, "eni", "DocumentoEni.xsd")


def madrid(instant: str) -> str:
    at = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return at.astimezone(ZoneInfo("Europe/Madrid")).strftime("%Y%m%d%H%M%S")


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_an_entry_exports_as_valid_sicres3_with_its_attachments(
    citizen: httpx.Client, demo_code: str
) -> None:
    pdf = minimal_pdf("Plano de la cocina")
    note = "Presupuesto: 1.200 € (IVA incluido)\n".encode()
    r = submit(citizen, demo_code, files=[("plano.pdf", pdf, "application/pdf"),
                                          ("presupuesto.txt", note, "text/plain")])
    assert r.status_code == 201, r.text
    e: dict[str, Any] = r.json()

    got = citizen.get(e["sicres3"])
    root = sicres3(got)
    origin = root.find("De_Origen_o_Remitente")
    assert origin.findtext("Codigo_Entidad_Registral_Origen") == e["office"]
    assert origin.findtext("Numero_Registro_Entrada") == e["number"]
    assert origin.findtext("Fecha_Hora_Entrada") == madrid(e["registered_at"])
    destination = root.find("De_Destino")
    assert destination.findtext("Codigo_Unidad_Tramitacion_Destino") == "LA0099902"
    assert destination.findtext("Decodificacion_Unidad_Tramitacion_Destino") == "Urbanismo"

    [party] = root.findall("De_Interesado")
    assert party.findtext("Tipo_Documento_Identificacion_Interesado") == "N"
    assert party.findtext("Documento_Identificacion_Interesado") == "12345678Z"
    assert [party.findtext(f) for f in ("Nombre_Interesado", "Primer_Apellido_Interesado",
                                        "Segundo_Apellido_Interesado")] == [
        "María", "García", "López"]

    subject = root.find("De_Asunto")
    assert subject.findtext("Resumen") == e["subject"]
    assert subject.findtext("Numero_Expediente") == "2026/URB/0042"
    assert subject.findtext("Codigo_Asunto_Segun_Destino") == "2117836"

    control = root.find("De_Internos_Control")
    assert control.findtext("Tipo_Registro") == "0"
    exchange = control.findtext("Identificador_Intercambio") or ""
    assert exchange.startswith(f"{e['office']}_{madrid(e['registered_at'])[2:4]}_")

    annexes = root.findall("De_Anexo")
    assert [a.findtext("Nombre_Fichero_Anexado") for a in annexes] == [
        "plano.pdf", "presupuesto.txt"]
    for annex, data in zip(annexes, (pdf, note), strict=True):
        assert annex.findtext("Hash") == b64_sha256(data)
        assert base64.b64decode(annex.findtext("Anexo") or "") == data
        assert (annex.findtext("Identificador_Fichero") or "").startswith(exchange)

    form = root.find("De_Formulario_Generico")
    assert form.findtext("Expone") == e["expone"]
    assert form.findtext("Solicita") == e["solicita"]

    # Exporting again names the same exchange: a resend is recognisable as such.
    again = sicres3(citizen.get(e["sicres3"]))
    assert again.findtext("De_Internos_Control/Identificador_Intercambio") == exchange


def test_an_exit_exports_as_valid_sicres3_with_its_addressees(
    citizen: httpx.Client, registrar: httpx.Client, demo_code: str
) -> None:
    entry = submit(citizen, demo_code).json()
    pdf = minimal_pdf("Oficio")
    madrid_city = {"id_type": "DIR3", "id_number": "L01280796",
                   "name": "Ayuntamiento de Madrid"}
    neighbour = {"id_type": "NIE", "id_number": "X1234567L",
                 "name": "Juan de la Fuente Martínez"}
    r = submit(registrar, demo_code,
               entry_body(destination_unit=None, origin_unit="LA0099901",
                          interested=[madrid_city, neighbour]),
               files=[("oficio.pdf", pdf, "application/pdf")], kind="exits")
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()

    root = sicres3(registrar.get(out["sicres3"]))
    assert root.findtext("De_Origen_o_Remitente/Numero_Registro_Entrada") == out["number"]
    assert root.findtext("De_Origen_o_Remitente/Codigo_Unidad_Tramitacion_Origen") == (
        "LA0099901")
    assert root.findtext("De_Destino/Codigo_Unidad_Tramitacion_Destino") == "L01280796"
    assert root.findtext("De_Internos_Control/Tipo_Registro") == "1"
    city, person = root.findall("De_Interesado")
    assert city.findtext("Tipo_Documento_Identificacion_Interesado") == "O"
    assert city.findtext("Razon_Social_Interesado") == "Ayuntamiento de Madrid"
    assert person.findtext("Tipo_Documento_Identificacion_Interesado") == "E"
    assert [person.findtext(f) for f in ("Nombre_Interesado", "Primer_Apellido_Interesado",
                                         "Segundo_Apellido_Interesado")] == [
        "Juan", "de la Fuente", "Martínez"]
    [annex] = root.findall("De_Anexo")
    assert annex.findtext("Hash") == b64_sha256(pdf)
    assert base64.b64decode(annex.findtext("Anexo") or "") == pdf

    # Entry 1 and exit 1 of the same office and year are different exchanges.
    first_entry = sicres3(registrar.get(entry["sicres3"]))
    assert entry["number"][-6:] == out["number"][-6:] == "000001"
    assert (first_entry.findtext("De_Internos_Control/Identificador_Intercambio")
            != root.findtext("De_Internos_Control/Identificador_Intercambio"))


def test_a_representative_entry_names_the_entity_and_its_representative(
    login: Callable[[Principal], httpx.Client], demo_code: str
) -> None:
    agent = login(principal(demo_code, capacity="representative", name="Ana Ruiz Sanz",
                            entity_cif="B12345674", entity_name="Reformas Villademo SL"))
    e = submit(agent, demo_code).json()
    [party] = sicres3(agent.get(e["sicres3"])).findall("De_Interesado")
    assert party.findtext("Tipo_Documento_Identificacion_Interesado") == "C"
    assert party.findtext("Documento_Identificacion_Interesado") == "B12345674"
    assert party.findtext("Razon_Social_Interesado") == "Reformas Villademo SL"
    assert party.findtext("Documento_Identificacion_Representante") == "12345678Z"
    assert party.findtext("Nombre_Representante") == "Ana"
    assert party.findtext("Primer_Apellido_Representante") == "Ruiz"


def test_the_receipt_exports_as_a_valid_eni_document(
    citizen: httpx.Client, demo_code: str
) -> None:
    e = submit(citizen, demo_code,
               files=[("plano.pdf", minimal_pdf(), "application/pdf")]).json()
    root = eni(citizen.get(e["receipt"]["eni"]))
    receipt = citizen.get(e["receipt"]["pdf"]).content
    assert base64.b64decode(root.findtext("file:contenido/file:ValorBinario",
                                          namespaces=ENI) or "") == receipt
    assert root.findtext("file:contenido/file:NombreFormato", namespaces=ENI) == "pdf"

    meta = root.find("meta:metadatos", ENI)
    identifier = meta.findtext("meta:Identificador", namespaces=ENI) or ""
    year = madrid(e["registered_at"])[:4]
    assert identifier.startswith(f"ES_{demo_code}_{year}_") and len(identifier) <= 52
    assert meta.findtext("meta:Organo", namespaces=ENI) == demo_code
    assert meta.findtext("meta:EstadoElaboracion/meta:ValorEstadoElaboracion",
                         namespaces=ENI) == "EE01"
    captured = datetime.fromisoformat(meta.findtext("meta:FechaCaptura", namespaces=ENI) or "")
    assert captured == datetime.fromisoformat(e["registered_at"].replace("Z", "+00:00")
                                              ).replace(microsecond=0)
    # The seal is the PAdES signature inside the PDF; the block points at the content.
    signature = root.find("sig:firmas/sig:firma", ENI)
    assert signature.findtext("sig:TipoFirma", namespaces=ENI) == "TF06"
    content_id = root.find("file:contenido", ENI).get("Id")
    assert signature.findtext("sig:ContenidoFirma/sig:FirmaConCertificado/"
                              "sig:ReferenciaFirma", namespaces=ENI) == f"#{content_id}"


def test_exports_are_readable_by_whoever_may_read_the_entry(
    login: Callable[[Principal], httpx.Client], citizen: httpx.Client,
    registrar: httpx.Client, demo_code: str,
) -> None:
    mine = submit(citizen, demo_code).json()
    other = login(principal(demo_code, nif=OTHER_NIF, name="Otro Vecino"))
    for href in (mine["sicres3"], mine["receipt"]["eni"]):
        assert citizen.get(href).status_code == 200
        assert registrar.get(href).status_code == 200
        r = other.get(href)
        assert r.status_code == 404 and r.json()["code"] == "registry_entry_not_found"
    missing = f"/registry/{demo_code}/entries/00000000-0000-0000-0000-000000000000/sicres3.xml"
    assert citizen.get(missing).status_code == 404


def test_what_sicres3_cannot_hold_is_a_clear_422_never_cut_short(
    citizen: httpx.Client, registrar: httpx.Client, demo_code: str
) -> None:
    # The registry takes up to 20 000 characters of "expone"; SICRES 3.0 holds 4 000.
    long = submit(citizen, demo_code, entry_body(expone="Que " + "x" * 4000)).json()
    r = citizen.get(long["sicres3"])
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "registry_not_exchangeable"
    assert problem["field"] == "expone" and problem["limit"] == 4000
    # The receipt, which states it in full, still exports.
    eni(citizen.get(long["receipt"]["eni"]))

    name = "Resolución de la Junta de Gobierno Local sobre la licencia de obra menor 2026.pdf"
    named = submit(citizen, demo_code, files=[(name, minimal_pdf(), "application/pdf")]).json()
    r = citizen.get(named["sicres3"])
    assert r.status_code == 422 and r.json()["field"] == "attachments[0].name"

    # An annulled entry is not sent as if it stood.
    entry = submit(citizen, demo_code).json()
    assert registrar.post(f"{entry['history'].rsplit('/', 1)[0]}/annulment",
                          json={"reason": "duplicada"}).status_code == 200
    r = citizen.get(entry["sicres3"])
    assert r.status_code == 409 and r.json()["code"] == "registry_entry_annulled"


def test_an_altered_stored_attachment_is_never_exported_under_its_recorded_hash(
    ctx: Any, registrar: httpx.Client, citizen: httpx.Client, demo_code: str,
) -> None:
    original = b"Documento original\n"
    entry = submit(citizen, demo_code, files=[("nota.txt", original, "text/plain")]).json()
    digest = entry["attachments"][0]["sha256"]
    path = ctx.blobs.path(digest)
    mode = path.stat().st_mode
    path.chmod(0o600)
    path.write_bytes(b"Documento alterado\n")
    try:
        res = registrar.get(f"/registry/{demo_code}/entries/{entry['id']}/sicres3.xml")
        assert res.status_code == 500
        assert res.json()["code"] == "registry_document_corrupted"
        assert b"alterado" not in res.content
    finally:
        path.write_bytes(original)
        path.chmod(mode)
    assert registrar.get(f"/registry/{demo_code}/entries/{entry['id']}/sicres3.xml"
                         ).status_code == 200
