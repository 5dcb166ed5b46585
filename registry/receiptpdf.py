"""The receipt PDF, written directly as a small PDF 1.7 file.

The receipt is text and one table, so a few hand-made content streams are enough
and keep the output small and deterministic. Long values wrap at a fixed width
(the body font is monospaced) and the document grows to as many pages as it needs.
The bottom band of every page is left free for the seal's visible stamp.

The receipt is an authenticated copy of what was registered, so it must state
names exactly in any script: its text is set in DejaVu fonts embedded as subsets
(Type 0, Identity-H, with a ToUnicode map so that the text extracts as it was
given). A machine without those fonts still issues receipts in the standard PDF
fonts (Helvetica and Courier, WinAnsi encoding: every Spanish and most Western
European names) as long as every character fits that encoding; beyond it no
receipt is produced at all, rather than one with characters replaced.
"""

from __future__ import annotations

import hashlib
import textwrap
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from infra.errors import InvalidInput, ServiceUnavailable
from registry.fontsubset import TrueTypeFont
from signing.pades import stamp_font

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 50
TOP = PAGE_H - 50
#: The seal's visible stamp goes in the band below this line (see ``STAMP_BOX``).
BOTTOM = 150
STAMP_BOX = (MARGIN, 40, PAGE_W - MARGIN, 130)
BODY_SIZE = 9
#: Advance of DejaVu Sans Mono (1233/2048 em), rounded as the wrapping needs it.
COURIER_W = 0.6 * BODY_SIZE
COLUMNS = int((PAGE_W - 2 * MARGIN) / COURIER_W)

#: Resource name -> font file, next to the seal stamp's DejaVu Sans.
FONT_FILES = {
    "F1": "DejaVuSans-Bold.ttf",
    "F2": "DejaVuSansMono.ttf",
    "F3": "DejaVuSans.ttf",
}


#: The standard fonts (PDF 32000-1 9.6.2.2) a receipt falls back to without DejaVu.
STANDARD_FONTS = {"F1": b"Helvetica-Bold", "F2": b"Courier", "F3": b"Helvetica"}


class ReceiptFontMissing(ServiceUnavailable):
    """The DejaVu fonts are not installed and the text does not fit the standard fonts."""

    code = "receipt_font_missing"
    title = "The fonts needed to print this receipt are not installed"


class UnprintableText(InvalidInput):
    code = "receipt_text_unprintable"
    title = "The submission contains characters the receipt cannot print"


def _font_path(name: str) -> Path:
    found = stamp_font()
    path = Path(found).parent / name if found else None
    if path is None or not path.is_file():
        raise ReceiptFontMissing(
            f"{name} (fonts-dejavu-core) is not installed; receipts are set in it")
    return path


@lru_cache(maxsize=len(FONT_FILES))
def _font_file(name: str) -> TrueTypeFont:
    return TrueTypeFont.load(_font_path(name))


@dataclass
class _Subset:
    """The glyphs of one font a receipt uses."""

    file: TrueTypeFont
    gids: dict[str, int]

    @classmethod
    def of(cls, tag: str, chars: set[str]) -> _Subset:
        file = _font_file(FONT_FILES[tag])
        missing = sorted(c for c in chars if ord(c) not in file.cmap)
        if missing:
            shown = ", ".join(f"U+{ord(c):04X}" for c in missing[:10])
            raise UnprintableText(f"the receipt cannot print the characters {shown}",
                                  characters=[f"U+{ord(c):04X}" for c in missing])
        return cls(file, {c: file.cmap[ord(c)] for c in chars})

    def encode(self, text: str) -> bytes:
        return b"<" + "".join(f"{self.gids[c]:04X}" for c in text).encode() + b">"


def _clean(text: str) -> str:
    # Tabs and stray line breaks inside a wrapped line print as spaces.
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _literal(value: str) -> bytes:
    """A PDF text string (UTF-16BE with BOM) for metadata such as the title."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode() + b">"


@dataclass(frozen=True)
class _Text:
    font: str
    size: float
    x: float
    y: float
    text: str


@dataclass
class _Layout:
    pages: list[list[bytes | _Text]] = field(default_factory=lambda: [[]])
    y: float = TOP

    def _ensure(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.pages.append([])
            self.y = TOP

    def line(self, text: str, *, font: str = "F2", size: float = BODY_SIZE,
             indent: float = 0, gap: float = 1.35) -> None:
        self._ensure(size * gap)
        self.y -= size * gap
        self.pages[-1].append(_Text(font, size, MARGIN + indent, self.y, _clean(text)))

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
        page.append(_Text("F3", 8, PAGE_W - MARGIN - 60, 25, f"Página {n} de {total}"))
    return _assemble(lay.pages, title)


def _used(pages: Sequence[Sequence[bytes | _Text]]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {tag: set() for tag in FONT_FILES}
    for page in pages:
        for op in page:
            if isinstance(op, _Text):
                used[op.font].update(op.text)
    return used


class _Standard:
    """A standard Type 1 font in WinAnsi encoding, for machines without DejaVu."""

    @staticmethod
    def encode(text: str) -> bytes:
        raw = text.encode("cp1252")
        escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        return b"(" + escaped + b")"


def _fonts(pages: Sequence[Sequence[bytes | _Text]]) -> dict[str, _Subset | _Standard]:
    """The embedded DejaVu subsets, or the standard fonts when DejaVu is absent.

    The fallback is taken only for text WinAnsi can hold exactly; anything else
    needs the embedded fonts, and without them the receipt is refused.
    """
    used = _used(pages)
    try:
        return {tag: _Subset.of(tag, chars) for tag, chars in used.items() if chars}
    except ReceiptFontMissing:
        text = "".join("".join(chars) for chars in used.values())
        try:
            text.encode("cp1252")
        except UnicodeEncodeError:
            raise ReceiptFontMissing(
                "this receipt holds characters beyond Windows-1252, which only the embedded "
                "DejaVu fonts (fonts-dejavu-core) can print; they are not installed") from None
        return {tag: _Standard() for tag, chars in used.items() if chars}


def _stream(page: Sequence[bytes | _Text], fonts: dict[str, _Subset | _Standard]) -> bytes:
    ops = [
        b"BT /%s %.1f Tf %.1f %.1f Td %s Tj ET"
        % (op.font.encode(), op.size, op.x, op.y, fonts[op.font].encode(op.text))
        if isinstance(op, _Text) else op
        for op in page
    ]
    return b"\n".join(ops)


def _assemble(pages: Sequence[Sequence[bytes | _Text]], title: str) -> bytes:
    """Serialise catalogue, page tree, fonts, pages and streams with a correct xref."""
    fonts = _fonts(pages)
    streams = [_stream(p, fonts) for p in pages]
    objects: list[bytes] = []  # object n is objects[n-1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # page tree, filled in below
    font_refs = []
    for tag, font in fonts.items():
        if isinstance(font, _Standard):
            objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s "
                           b"/Encoding /WinAnsiEncoding >>" % STANDARD_FONTS[tag])
            ref = len(objects)
        else:
            ref = _embed(objects, font)
        font_refs.append(b"/%s %d 0 R" % (tag.encode(), ref))
    resources = b"<< /Font << " + b" ".join(font_refs) + b" >> >>"
    kids = []
    for stream in streams:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream) + 0, stream))
        content = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources %s "
                       b"/Contents %d 0 R >>" % (PAGE_W, PAGE_H, resources, content))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    objects.append(b"<< /Title %s /Producer (eLocal) >>" % _literal(title))
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


def _embed(objects: list[bytes], sub: _Subset) -> int:
    """Add a Type 0 font (CIDFontType2, Identity-H) and return its object number."""
    f = sub.file
    scale = 1000 / f.units
    data = f.subset(set(sub.gids.values()))
    # A subset is named by a tag derived from its glyphs, as PDF 32000-1 9.6.4 asks.
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(data).digest()[:6])
    name = f"{tag}+{f.ps_name}".encode()
    packed = zlib.compress(data, 6)
    objects.append(b"<< /Length %d /Length1 %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
                   % (len(packed), len(data), packed))
    file_ref = len(objects)
    bbox = b" ".join(b"%d" % round(v * scale) for v in f.bbox)
    objects.append(
        b"<< /Type /FontDescriptor /FontName /%s /Flags 32 /FontBBox [%s] /ItalicAngle 0 "
        b"/Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %d 0 R >>"
        % (name, bbox, round(f.ascent * scale), round(f.descent * scale),
           round(f.cap_height * scale), file_ref))
    descriptor = len(objects)
    widths = b" ".join(b"%d [%d]" % (gid, f.advance(gid))
                       for gid in sorted(set(sub.gids.values())))
    objects.append(
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry "
        b"(Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R "
        b"/CIDToGIDMap /Identity /W [%s] >>" % (name, descriptor, widths))
    cid_font = len(objects)
    cmap = _to_unicode(sub)
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap))
    to_unicode = len(objects)
    objects.append(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H "
        b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (name, cid_font, to_unicode))
    return len(objects)


def _to_unicode(sub: _Subset) -> bytes:
    """The CMap that maps each glyph back to its character, so the text extracts exactly."""
    pairs = sorted((gid, c) for c, gid in sub.gids.items())
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
             b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def",
             b"1 begincodespacerange", b"<0000> <FFFF>", b"endcodespacerange"]
    for i in range(0, len(pairs), 100):
        chunk = pairs[i:i + 100]
        lines.append(b"%d beginbfchar" % len(chunk))
        lines += [b"<%04X> <%s>" % (gid, c.encode("utf-16-be").hex().upper().encode())
                  for gid, c in chunk]
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines)
