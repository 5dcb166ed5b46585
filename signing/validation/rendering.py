"""The text each page renders, by poppler's ``pdftotext``: an independent second opinion.

The structural comparison in ``pdfdiff`` decides; this check renders the signed
revision and the final file with a PDF engine eLocal did not write and compares
the text page by page, so that a gap in the structural rules cannot hide a
visible change. Where poppler is not installed the check is skipped (and the
report says so). On hostile input it is bounded in time and output: one
``TextRenderer`` serves one validation, renders each distinct revision at most
once (the final file once, however many signatures there are) and stops rendering
when its total time budget is spent; a comparison it could not make is reported
as such, never as "unchanged".
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

#: A single rendering that takes longer than this gives no opinion.
TIMEOUT_SECONDS = 10.0
#: All renderings of one validation together stop after this long.
TOTAL_BUDGET_SECONDS = 30.0
MAX_TEXT_BYTES = 16 * 1024 * 1024


def available() -> bool:
    return shutil.which("pdftotext") is not None


def page_texts(pdf: bytes, timeout: float = TIMEOUT_SECONDS) -> list[str] | None:
    """Text per page, or None when poppler cannot render the document in ``timeout``."""
    tool = shutil.which("pdftotext")
    if tool is None or timeout <= 0:
        return None
    with tempfile.TemporaryDirectory(prefix="elocal-render-") as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf)
        try:
            res = subprocess.run(
                [tool, "-q", "-enc", "UTF-8", str(source), "-"],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
    if res.returncode != 0 or len(res.stdout) > MAX_TEXT_BYTES:
        return None
    pages = res.stdout.decode("utf-8", "replace").split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return [" ".join(p.split()) for p in pages]


class TextRenderer:
    """Page texts for one validation: each distinct input rendered once, within a budget."""

    def __init__(
        self, budget_seconds: float | None = None, timeout_seconds: float | None = None
    ) -> None:
        # Module limits are read here, not at import, so that a deployment (or a test)
        # can set them.
        budget = TOTAL_BUDGET_SECONDS if budget_seconds is None else budget_seconds
        self._deadline = time.monotonic() + budget
        self._timeout = TIMEOUT_SECONDS if timeout_seconds is None else timeout_seconds
        self._texts: dict[bytes, list[str] | None] = {}

    def texts(self, pdf: bytes) -> list[str] | None:
        """Text per page, or None when the document cannot be rendered (in the time left)."""
        key = hashlib.sha256(pdf).digest()
        if key not in self._texts:
            left = min(self._timeout, self._deadline - time.monotonic())
            self._texts[key] = page_texts(pdf, timeout=left)
        return self._texts[key]

    def changes(self, signed_revision: bytes, final: bytes) -> list[str] | None:
        """Pages (1-based) whose rendered text differs; None when either side cannot be rendered."""
        after = self.texts(final)
        before = self.texts(signed_revision) if after is not None else None
        if before is None or after is None:
            return None
        changed = [
            str(n) for n, (a, b) in enumerate(zip(before, after, strict=False), start=1) if a != b
        ]
        if len(before) != len(after):
            changed.append(f"count {len(before)}->{len(after)}")
        return changed


def text_changes(signed_revision: bytes, final: bytes) -> list[str] | None:
    """Pages (1-based) whose rendered text differs; None when either side cannot be rendered."""
    return TextRenderer().changes(signed_revision, final)
