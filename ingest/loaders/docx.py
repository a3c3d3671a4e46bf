"""Word documents (also what Google Docs exports as .docx): heading styles become headings."""

from __future__ import annotations

import io
import re
import zipfile

from ingest.archives import MemberTooLarge, UnreadableMember, ZipBomb, copy_member
from ingest.loaders.text import UnreadableFile

MAX_MARKUP_BYTES = 50_000_000  # the XML of one document, inflated; a 10,000-page book is less
_MAX_ENTRIES = 10_000
_MARKUP = (".xml", ".rels")


def docx_to_markdown(data: bytes) -> tuple[str, str]:
    from docx import Document as open_docx

    package = vetted_docx(data)
    try:
        doc = open_docx(io.BytesIO(package))
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


def vetted_docx(data: bytes, *, max_markup_bytes: int = MAX_MARKUP_BYTES) -> bytes:
    """The .docx rebuilt with every XML part inflated under the zip-bomb guard, so python-docx
    never inflates anything itself (a 2 MB file can hold gigabytes of XML). Other parts
    (images, fonts, embedded files) are kept as empty entries: the text needs none of them."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnreadableFile(f"is not a readable .docx file ({type(exc).__name__})") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > _MAX_ENTRIES:
        raise UnreadableFile(f"is a .docx with {len(infos):,} parts, more than {_MAX_ENTRIES:,}")
    budget = max_markup_bytes
    out = io.BytesIO()
    with archive, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as clean:
        written: set[str] = set()
        for info in infos:
            if info.filename in written:
                continue  # python-docx would read one of them; a real .docx has no twins
            written.add(info.filename)
            if not info.filename.lower().endswith(_MARKUP):
                clean.writestr(info.filename, b"")
                continue
            part = io.BytesIO()
            try:
                budget -= copy_member(archive, info, part, cap=budget)
            except ZipBomb as exc:
                raise UnreadableFile(
                    f"has a part ({_short(exc.name)}) that unpacks to more than "
                    f"{exc.max_ratio:g} times its packed size (a zip bomb?), so it was not read"
                ) from None
            except MemberTooLarge:
                raise UnreadableFile(
                    f"unpacks to more than {max_markup_bytes / 1e6:g} MB of XML, so it was not read"
                ) from None
            except UnreadableMember as exc:
                raise UnreadableFile(
                    f"is not a readable .docx file ({_short(exc.name)} is encrypted or damaged)"
                ) from None
            clean.writestr(info.filename, part.getvalue())
    return out.getvalue()


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "..."
