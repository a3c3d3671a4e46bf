"""Small real PDF and DOCX files made on the fly (reportlab, python-docx), for loader tests."""

from __future__ import annotations

import io
from collections.abc import Sequence


def make_pdf(pages: Sequence[Sequence[str]], *, title: str | None = None) -> bytes:
    """A PDF with one list of text lines per page."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    if title is not None:  # reportlab writes "untitled" otherwise
        pdf.setTitle(title)
    for lines in pages:
        y = 760
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_docx(
    *,
    title: str = "",
    title_paragraph: str | None = None,
    blocks: Sequence[tuple[str, str]] = (),
    table: Sequence[Sequence[str]] = (),
) -> bytes:
    """A DOCX; `blocks` are (kind, text) with kind 'h1', 'h2', 'p' or 'li'."""
    import docx

    doc = docx.Document()
    doc.core_properties.title = title
    if title_paragraph:
        doc.add_paragraph(title_paragraph, style="Title")
    for kind, text in blocks:
        if kind.startswith("h"):
            doc.add_heading(text, level=int(kind[1:]))
        elif kind == "li":
            doc.add_paragraph(text, style="List Bullet")
        else:
            doc.add_paragraph(text)
    if table:
        grid = doc.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
