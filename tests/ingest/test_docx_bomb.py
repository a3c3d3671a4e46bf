"""A .docx is a zip: its XML is inflated under the same zip-bomb guard as a Notion export."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from ingest.documents import Document, LoadFailure
from ingest.loaders import load_file
from ingest.loaders.docx import vetted_docx
from ingest.loaders.text import UnreadableFile
from tests.ingest.sample_files import make_docx

_BODY_OPEN = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>"
)
_BODY_CLOSE = b"</w:t></w:r></w:p></w:body></w:document>"


def with_document_xml(docx: bytes, document_xml: bytes) -> bytes:
    """The same .docx with word/document.xml replaced (deflated, as Word writes it)."""
    original = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as changed:
        for name in original.namelist():
            data = document_xml if name == "word/document.xml" else original.read(name)
            changed.writestr(name, data)
    return out.getvalue()


def load(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return load_file(path, doc_id=f"t::{name}", rel=name, source="t")


def test_a_docx_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    # 80 MB of text in a file of about 80 KB: a ratio near 1000:1.
    bomb = with_document_xml(make_docx(), _BODY_OPEN + b"A" * 80_000_000 + _BODY_CLOSE)
    assert len(bomb) < 200_000

    tracemalloc.start()
    try:
        result = load(tmp_path, "bomb.docx", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert isinstance(result, LoadFailure), result
    assert "word/document.xml" in result.reason and "zip bomb" in result.reason
    assert len(result.reason) < 200 and "\n" not in result.reason
    assert peak < 10_000_000, f"{peak:,} bytes held while refusing an 80 KB file"


def test_a_docx_whose_xml_passes_the_size_limit_is_refused(tmp_path: Path) -> None:
    # Numbered words pack poorly, so the ratio is ordinary; only the size gives it away.
    words = b" ".join(b"moth%d" % i for i in range(400_000))
    big = with_document_xml(make_docx(), _BODY_OPEN + words + _BODY_CLOSE)
    assert len(words) > 3_000_000
    with pytest.raises(UnreadableFile, match=r"unpacks to more than 2 MB of XML"):
        vetted_docx(big, max_markup_bytes=2_000_000)
    loaded = load(tmp_path, "big.docx", big)  # under the real limit it loads
    assert isinstance(loaded, Document) and "moth399999" in loaded.text


def test_a_docx_with_a_picture_still_reads_its_text(tmp_path: Path) -> None:
    import docx
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (64, 32), "purple").save(picture, format="PNG")
    picture.seek(0)
    document = docx.Document()
    document.add_heading("Overlay", level=1)
    document.add_picture(picture)
    document.add_paragraph("The purple overlay sits in the lower third.")
    data = io.BytesIO()
    document.save(data)

    result = load(tmp_path, "overlay.docx", data.getvalue())
    assert isinstance(result, Document), result
    assert "# Overlay" in result.text and "lower third" in result.text
