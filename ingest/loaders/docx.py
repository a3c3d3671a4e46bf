"""Word documents (also what Google Docs exports as .docx): heading styles become headings."""

from __future__ import annotations

import io
import re
import zipfile

from ingest.loaders.text import UnreadableFile


def docx_to_markdown(data: bytes) -> tuple[str, str]:
    from docx import Document as open_docx

    try:
        doc = open_docx(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableFile(f"is not a readable .docx file ({type(exc).__name__})") from None
    lines: list[str] = []
    title = doc.core_properties.title or ""
    for para in doc.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        level = re.fullmatch(r"Heading (\d)", style)
        if style == "Title":
            title = title or text
            lines.extend([f"# {text}", ""])
        elif level:
            lines.extend([f"{'#' * int(level.group(1))} {text}", ""])
        elif style.startswith("List"):
            lines.append(f"- {text}")
        else:
            lines.extend([text, ""])
    for table in doc.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
        lines.append("")
    return title, "\n".join(lines)
