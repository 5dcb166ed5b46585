"""TrueType subsets for the receipt PDF, cut in a few milliseconds.

A receipt is sealed while its registration holds the municipality's log lock, so
its fonts must not cost what a general subsetter costs (re-parsing a 6,000-glyph
font per document). The font is parsed once per process; a subset keeps every
glyph id and empties the glyphs the receipt does not use, so no table needs
renumbering (composite glyphs keep pointing at their components). The empty
entries are runs of zeros and vanish under the PDF stream's Flate compression.

Only the tables a PDF viewer needs of an embedded CIDFontType2 are written
(PDF 32000-1 9.9: glyf, head, hhea, hmtx, loca, maxp, cvt, fpgm, prep); the text
itself is mapped back to Unicode by the PDF's ToUnicode CMap, not by the font.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont

__all__ = ["TrueTypeFont"]

#: Tables copied into a subset unchanged (when the font has them).
_KEPT = ("cvt ", "fpgm", "prep", "maxp")
# Composite glyph flags (OpenType ``glyf`` table).
_ARGS_ARE_WORDS = 0x0001
_HAVE_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_HAVE_XY_SCALE = 0x0040
_HAVE_2X2 = 0x0080


@dataclass(frozen=True)
class TrueTypeFont:
    """One TrueType font, parsed once: glyph data, metrics and character map."""

    ps_name: str
    units: int
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int
    #: Code point -> glyph id.
    cmap: dict[int, int]
    #: (advance width, left side bearing) per glyph id, in font units.
    metrics: tuple[tuple[int, int], ...]
    glyphs: tuple[bytes, ...]
    components: tuple[tuple[int, ...], ...]
    head: bytes
    hhea: bytes
    tables: dict[str, bytes]

    @classmethod
    def load(cls, path: Path) -> TrueTypeFont:
        font = TTFont(str(path), lazy=True, recalcTimestamp=False)
        raw = font.reader
        head, hhea = bytes(raw["head"]), bytes(raw["hhea"])
        count = struct.unpack(">H", bytes(raw["maxp"])[4:6])[0]
        long_loca = struct.unpack(">h", head[50:52])[0] == 1
        loca = bytes(raw["loca"])
        if long_loca:
            offsets = list(struct.unpack(f">{count + 1}I", loca[:4 * (count + 1)]))
        else:
            offsets = [2 * o for o in struct.unpack(f">{count + 1}H", loca[:2 * (count + 1)])]
        glyf = bytes(raw["glyf"])
        glyphs = tuple(glyf[offsets[i]:offsets[i + 1]] for i in range(count))
        order = font.getGlyphOrder()
        hmtx = font["hmtx"].metrics
        unit = font["head"]
        os2 = font["OS/2"]
        return cls(
            ps_name=str(font["name"].getDebugName(6) or path.stem),
            units=int(unit.unitsPerEm),
            bbox=(unit.xMin, unit.yMin, unit.xMax, unit.yMax),
            ascent=int(font["hhea"].ascent), descent=int(font["hhea"].descent),
            cap_height=int(getattr(os2, "sCapHeight", 0) or font["hhea"].ascent),
            cmap={cp: font.getGlyphID(name) for cp, name in font.getBestCmap().items()},
            metrics=tuple((int(hmtx[n][0]), int(hmtx[n][1])) for n in order),
            glyphs=glyphs, components=tuple(_components(g) for g in glyphs),
            head=head, hhea=hhea,
            tables={tag: bytes(raw[tag]) for tag in _KEPT if tag in raw},
        )

    def advance(self, gid: int) -> int:
        """Advance width in thousandths of an em (PDF glyph space)."""
        return round(self.metrics[gid][0] * 1000 / self.units)

    def subset(self, used: set[int]) -> bytes:
        """A font file with only ``used`` glyphs (and their components) drawn."""
        keep = {0}
        todo = list(used)
        while todo:
            gid = todo.pop()
            if gid not in keep:
                keep.add(gid)
                todo.extend(self.components[gid])
        glyf = bytearray()
        loca = []
        hmtx = bytearray()
        for gid, data in enumerate(self.glyphs):
            loca.append(len(glyf))
            if gid in keep:
                glyf += data + b"\0" * (-len(data) % 4)
                hmtx += struct.pack(">Hh", *self.metrics[gid])
            else:
                hmtx += b"\0\0\0\0"
        loca.append(len(glyf))
        count = len(self.glyphs)
        # Long offsets (indexToLocFormat 1), no checksum adjustment: nothing reads them.
        head = self.head[:8] + b"\0\0\0\0" + self.head[12:50] + b"\0\1" + self.head[52:]
        hhea = self.hhea[:34] + struct.pack(">H", count) + self.hhea[36:]
        tables = {**self.tables, "head": head, "hhea": hhea, "hmtx": bytes(hmtx),
                  "loca": struct.pack(f">{count + 1}I", *loca), "glyf": bytes(glyf)}
        return _sfnt(tables)


def _components(glyph: bytes) -> tuple[int, ...]:
    """Glyph ids a composite glyph is built from (empty for a simple glyph)."""
    if len(glyph) < 10 or struct.unpack(">h", glyph[:2])[0] >= 0:
        return ()
    out = []
    pos = 10
    while pos + 4 <= len(glyph):
        flags, gid = struct.unpack(">HH", glyph[pos:pos + 4])
        out.append(gid)
        pos += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        if flags & _HAVE_SCALE:
            pos += 2
        elif flags & _HAVE_XY_SCALE:
            pos += 4
        elif flags & _HAVE_2X2:
            pos += 8
        if not flags & _MORE_COMPONENTS:
            break
    return tuple(out)


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """Serialise tables as a TrueType file (table directory sorted by tag, 4-byte aligned)."""
    tags = sorted(tables)
    n = len(tags)
    power = 1 << (n.bit_length() - 1)
    out = bytearray(struct.pack(">IHHHH", 0x00010000, n, power * 16, power.bit_length() - 1,
                                n * 16 - power * 16))
    offset = 12 + 16 * n
    body = bytearray()
    for tag in tags:
        data = tables[tag]
        out += struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data),
                           offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    return bytes(out + body)
