"""ETSI baseline levels and XAdES packaging forms accepted by the sealing service."""

from __future__ import annotations

import enum

from signing.errors import UnknownLevel, UnsupportedOption


class Level(enum.Enum):
    """ETSI EN 319 142 / 319 132 baseline levels, ordered from weakest to strongest."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def timestamped(self) -> bool:
        return self.rank >= Level.B_T.rank

    @property
    def long_term(self) -> bool:
        return self.rank >= Level.B_LT.rank

    @classmethod
    def parse(cls, value: str | Level) -> Level:
        """Accept ``B-T``, ``b_t``, ``PAdES-B-T``, ``XAdES-BASELINE-T`` spellings."""
        if isinstance(value, Level):
            return value
        norm = value.strip().upper().replace("_", "-")
        for prefix in ("PADES-", "XADES-", "CADES-"):
            norm = norm.removeprefix(prefix)
        norm = norm.replace("BASELINE-", "B-")
        for level in cls:
            if level.value == norm:
                return level
        raise UnknownLevel(f"unknown signature level {value!r}", value=value,
                           allowed=[lv.value for lv in cls])


_ORDER = [Level.B_B, Level.B_T, Level.B_LT, Level.B_LTA]


class Packaging(enum.Enum):
    """Where a XAdES signature sits relative to the data it signs."""

    ENVELOPED = "enveloped"
    ENVELOPING = "enveloping"
    DETACHED = "detached"
    #: Data and signature are siblings inside one wrapper document (the AGE policy's preference).
    INTERNALLY_DETACHED = "internally-detached"

    @classmethod
    def parse(cls, value: str | Packaging) -> Packaging:
        if isinstance(value, Packaging):
            return value
        norm = value.strip().lower().replace("_", "-")
        for p in cls:
            if p.value == norm:
                return p
        raise UnsupportedOption(f"unknown XAdES packaging {value!r}", value=value,
                                allowed=[p.value for p in cls])
