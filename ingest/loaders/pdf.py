"""PDF text, one section per page so citations can name the page."""

from __future__ import annotations

import io
import logging

from ingest.loaders.text import UnreadableFile

logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly about minor flaws


def pdf_to_markdown(data: bytes) -> tuple[str, str]:
    """(title, text) of a PDF; corrupt, encrypted and image-only PDFs are refused clearly."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("is an encrypted PDF; export it without a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AssertionError) as exc:
        raise UnreadableFile(f"is not a readable PDF ({type(exc).__name__})") from None
    if not any(p.strip() for p in pages):
        raise UnreadableFile("has no extractable text (a scanned PDF needs OCR first)")
    parts = [f"## Page {n}\n\n{text.strip()}\n" for n, text in enumerate(pages, 1) if text.strip()]
    return str(title), "\n".join(parts)
