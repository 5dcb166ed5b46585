"""The text each page renders, by poppler's ``pdftotext``: an independent second opinion.

The structural comparison in ``pdfdiff`` decides; this check renders the signed
revision and the final file with a PDF engine eLocal did not write and compares
the text page by page, so that a gap in the structural rules cannot hide a
visible change. Where poppler is not installed the check is skipped (and the
report says so); on hostile input it is bounded in time and output.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

#: A rendering that takes longer than this gives no opinion.
TIMEOUT_SECONDS = 10
MAX_TEXT_BYTES = 16 * 1024 * 1024


def available() -> bool:
    return shutil.which("pdftotext") is not None


def page_texts(pdf: bytes) -> list[str] | None:
    """Text per page, or None when poppler cannot render the document."""
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="elocal-render-") as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf)
        try:
            res = subprocess.run(
                [tool, "-q", "-enc", "UTF-8", str(source), "-"],
                capture_output=True,
                timeout=TIMEOUT_SECONDS,
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


def text_changes(signed_revision: bytes, final: bytes) -> list[str] | None:
    """Pages (1-based) whose rendered text differs; None when either side cannot be rendered."""
    before, after = page_texts(signed_revision), page_texts(final)
    if before is None or after is None:
        return None
    changed = [
        str(n) for n, (a, b) in enumerate(zip(before, after, strict=False), start=1) if a != b
    ]
    if len(before) != len(after):
        changed.append(f"count {len(before)}->{len(after)}")
    return changed
