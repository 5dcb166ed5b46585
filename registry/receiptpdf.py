"""The receipt PDF, written directly as a small PDF 1.7 file.

The receipt is text and one table, so a few hand-made content streams with the
standard Helvetica and Courier fonts (WinAnsi encoding covers Spanish) are enough
and keep the output small and deterministic. Long values wrap at a fixed width
(Courier is monospaced) and the document grows to as many pages as it needs. The
bottom band of every page is left free for the seal's visible stamp.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 50
TOP = PAGE_H - 50
#: The seal's visible stamp goes in the band below this line (see ``STAMP_BOX``).
BOTTOM = 150
STAMP_BOX = (MARGIN, 40, PAGE_W - MARGIN, 130)
BODY_SIZE = 9
COURIER_W = 0.6 * BODY_SIZE
COLUMNS = int((PAGE_W - 2 * MARGIN) / COURIER_W)


def _pdf_text(value: str) -> bytes:
    raw = value.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


@dataclass
class _Layout:
    pages: list[list[bytes]] = field(default_factory=lambda: [[]])
    y: float = TOP

    def _ensure(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.pages.append([])
            self.y = TOP

    def line(self, text: str, *, font: str = "F2", size: float = BODY_SIZE,
             indent: float = 0, gap: float = 1.35) -> None:
        self._ensure(size * gap)
        self.y -= size * gap
        self.pages[-1].append(
            b"BT /%s %.1f Tf %.1f %.1f Td %s Tj ET"
            % (font.encode(), size, MARGIN + indent, self.y, _pdf_text(text))
        )

    def space(self, height: float) -> None:
        self.y -= height

    def rule(self) -> None:
        self._ensure(6)
        self.y -= 4
        self.pages[-1].append(
            b"0.6 w %.1f %.1f m %.1f %.1f l S" % (MARGIN, self.y, PAGE_W - MARGIN, self.y)
        )
        self.y -= 2


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for para in (text or "").splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width, break_long_words=True,
                                   break_on_hyphens=False) or [""])
    return lines


def render(title: str, header: Sequence[str], fields: Sequence[tuple[str, str]],
           table_title: str, table_head: Sequence[str],
           table_rows: Sequence[Sequence[str]], footer: Sequence[tuple[str, str]]) -> bytes:
    """Lay out a receipt: title, header lines, labelled fields, a table, a footer."""
    lay = _Layout()
    lay.line(title, font="F1", size=14, gap=1.2)
    for h in header:
        lay.line(h, font="F3", size=10)
    lay.rule()
    for label, value in fields:
        lay.line(label, font="F1", size=BODY_SIZE)
        for part in _wrap(value, COLUMNS - 2):
            lay.line(part, indent=2 * COURIER_W)
    lay.space(4)
    lay.line(table_title, font="F1", size=10)
    lay.line(" | ".join(table_head), font="F1", size=8)
    lay.rule()
    for row in table_rows or [("-",)]:
        first = True
        for cell in row:
            for part in _wrap(cell, COLUMNS - 4):
                lay.line(part, indent=0 if first else 4 * COURIER_W)
                first = False
        lay.space(2)
    lay.rule()
    for label, value in footer:
        lay.line(label, font="F1", size=BODY_SIZE)
        for part in _wrap(value, COLUMNS - 2):
            lay.line(part, indent=2 * COURIER_W)
    total = len(lay.pages)
    for n, page in enumerate(lay.pages, 1):
        page.append(b"BT /F3 8 Tf %d 25 Td %s Tj ET"
                    % (PAGE_W - MARGIN - 60, _pdf_text(f"Página {n} de {total}")))
    return _assemble([b"\n".join(p) for p in lay.pages], title)


def _assemble(streams: list[bytes], title: str) -> bytes:
    """Serialise catalogue, page tree, fonts, pages and streams with a correct xref."""
    fonts = {b"F1": b"Helvetica-Bold", b"F2": b"Courier", b"F3": b"Helvetica"}
    objects: list[bytes] = []  # object n is objects[n-1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # page tree, filled in below
    font_refs = []
    for tag, base in fonts.items():
        objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s "
                       b"/Encoding /WinAnsiEncoding >>" % base)
        font_refs.append(b"/%s %d 0 R" % (tag, len(objects)))
    resources = b"<< /Font << " + b" ".join(font_refs) + b" >> >>"
    kids = []
    for stream in streams:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream) + 0, stream))
        content = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources %s "
                       b"/Contents %d 0 R >>" % (PAGE_W, PAGE_H, resources, content))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    objects.append(b"<< /Title %s /Producer (eLocal) >>" % _pdf_text(title))
    info = len(objects)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, info, xref))
    return bytes(out)
