"""Deterministic sample documents for benchmarks and tests: PDFs and XML of a given size."""

from __future__ import annotations

import io
import random

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

A4 = (0, 0, 595, 842)


def make_pdf(pages: int = 1, *, image_bytes: int = 0, text: str = "eLocal",
             pdfa: bool = False, seed: int = 1) -> bytes:
    """A PDF with ``pages`` text pages; ``image_bytes`` adds an incompressible grey image
    on the first page, which is how a scanned 10 MB document looks to a signer."""
    w = PdfFileWriter()
    font = w.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
        pdf_name("/BaseFont"): pdf_name("/Helvetica")}))
    for n in range(pages):
        resources = generic.DictionaryObject({
            pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})})
        ops = f"BT /F1 18 Tf 72 760 Td ({text} - page {n + 1}) Tj ET\n"
        if n == 0 and image_bytes:
            side = max(1, int(image_bytes ** 0.5))
            data = random.Random(seed).randbytes(side * side)
            img = w.add_object(generic.StreamObject({
                pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Image"),
                pdf_name("/Width"): generic.NumberObject(side),
                pdf_name("/Height"): generic.NumberObject(side),
                pdf_name("/ColorSpace"): pdf_name("/DeviceGray"),
                pdf_name("/BitsPerComponent"): generic.NumberObject(8)}, stream_data=data))
            resources[pdf_name("/XObject")] = generic.DictionaryObject({pdf_name("/Im1"): img})
            ops += "q 451 0 0 451 72 200 cm /Im1 Do Q\n"
        contents = w.add_object(generic.StreamObject(stream_data=ops.encode()))
        w.insert_page(PageObject(contents, A4, resources))
    if pdfa:
        return _raw_pdfa(text)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


_XMP = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
        b'<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>'
        b'</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>')


def _raw_pdfa(text: str) -> bytes:
    """A one-page PDF whose XMP claims PDF/A-2b, written byte by byte: pyHanko's own writer
    would replace foreign XMP, which is exactly what a sealing test must be able to see."""
    content = f"BT /F1 18 Tf 72 760 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n%s\nendstream"
        % (len(_XMP), _XMP),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def make_xml(size: int, *, seed: int = 1) -> bytes:
    """A registry-like XML document of about ``size`` bytes."""
    rnd = random.Random(seed)
    parts = [b'<?xml version="1.0" encoding="UTF-8"?>\n<Registro xmlns="urn:elocal:ejemplo">']
    total = len(parts[0])
    n = 0
    while total < size - 40:
        n += 1
        words = " ".join(rnd.choice(("solicitud", "licencia", "obra", "menor", "vecino",
                                     "padrón", "tasa", "recurso")) for _ in range(8))
        item = f'<Asiento numero="{n}"><Asunto>{words}</Asunto></Asiento>'.encode()
        parts.append(item)
        total += len(item)
    parts.append(b"</Registro>")
    return b"".join(parts)
