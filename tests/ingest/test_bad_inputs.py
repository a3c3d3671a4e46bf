"""Bad files are reported one by one, good files beside them still load, nothing stored is lost."""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import pytest

from ingest.documents import Document, LoadFailure
from ingest.loaders import FolderSource, load_file
from tests.ingest.sample_files import make_docx, make_pdf

MIC_NOTE = (
    "---\ntitle: Mic setup\ntags: [gear]\n---\n"
    "# Mic setup\n\nThe SM7B microphone sits about 5 cm from my mouth,"
    " with the gain at 60 percent on the Scarlett interface.\n"
)
MIC_QUESTION = "how far from your mouth is the SM7B microphone"


def good_pdf() -> bytes:
    return make_pdf(
        [["The stream camera is a Sony ZV-E10 with a 16 mm lens.", "It runs at 30 fps."]],
        title="Camera",
    )


def damaged_docx() -> bytes:
    """A real DOCX whose main XML part is cut short: the zip is fine, the XML is not."""
    original = zipfile.ZipFile(io.BytesIO(make_docx(blocks=[("p", "Mods pick clips.")])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as damaged:
        for name in original.namelist():
            data = original.read(name)
            damaged.writestr(name, data[: len(data) // 2] if name == "word/document.xml" else data)
    return out.getvalue()


# rel path -> (content, a pattern the failure reason must match)
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "broken/random.pdf": (
        b"%PDF-1.7\n" + random.Random(7).randbytes(4000),
        r"PDF",
    ),
    "broken/truncated.pdf": (good_pdf()[:900], r"not a readable PDF"),
    "broken/photo.md": (
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 8,
        r"is a binary file, not text",
    ),
    "broken/empty.md": (b"", r"has no text to index"),
    "broken/blank.txt": (b"  \n\n\t\n", r"has no text to index"),
    "broken/latin1.txt": (
        "Caf\u00e9 notes, saved in Latin-1.".encode("latin-1"),
        r"is not valid UTF-8 \(byte 0xe9 at offset 3\); save it as UTF-8",
    ),
    "broken/one-line.md": (b"moth " * (1024 * 1024), r"is 5\.0 MB, over the 2\.0 MB limit"),
    "broken/bad-yaml.md": (
        b"---\n\t- [unclosed\n  : : :\n---\n# Body\n\nText.\n",
        r"has invalid YAML front matter \(line \d+\)",
    ),
    "broken/deep-yaml.md": (
        b"---\n" + b"[" * 600 + b"\n---\nBody.\n",
        r"is damaged or not a real MD file",
    ),
    "broken/random.docx": (random.Random(8).randbytes(3000), r"not a readable \.docx"),
    "broken/damaged.docx": (damaged_docx(), r"is damaged or not a real DOCX file"),
    "broken/front-matter-only.md": (b"---\ntitle: Nothing else\n---\n", r"has no text to index"),
}

GOOD_FILES: dict[str, bytes] = {
    "mic.md": MIC_NOTE.encode(),
    "commands.txt": b"Song requests are disabled on purpose: the music is part of the vibe.\n",
    "camera.pdf": good_pdf(),
    "handbook.docx": make_docx(
        title="Mod handbook", blocks=[("p", "New mods are picked twice a year, in January.")]
    ),
}


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def assert_readable(failure: LoadFailure, pattern: str) -> None:
    assert re.search(pattern, failure.reason), (failure.path, failure.reason)
    assert "Traceback" not in failure.reason
    assert "\n" not in failure.reason
    assert len(failure.reason) < 200


@pytest.mark.parametrize("rel", sorted(BAD_FILES))
def test_each_bad_file_is_a_load_failure_with_a_readable_reason(tmp_path: Path, rel: str) -> None:
    data, pattern = BAD_FILES[rel]
    write_files(tmp_path, {rel: data})
    result = load_file(tmp_path / rel, doc_id=f"t::{rel}", rel=rel, source="t")
    assert isinstance(result, LoadFailure), result
    assert result.path == rel
    assert result.doc_id == f"t::{rel}"
    assert_readable(result, pattern)


def test_a_folder_of_bad_files_does_not_stop_the_good_ones(tmp_path: Path) -> None:
    write_files(tmp_path, GOOD_FILES | {rel: data for rel, (data, _) in BAD_FILES.items()})
    results = list(FolderSource(tmp_path, name="t").load())
    loaded = {r.path for r in results if isinstance(r, Document)}
    failed = {r.path: r for r in results if isinstance(r, LoadFailure)}
    assert loaded == set(GOOD_FILES)
    assert set(failed) == set(BAD_FILES)


@pytest.mark.slow
def test_sync_reports_bad_files_and_ingests_good_ones_end_to_end(tmp_path: Path, library) -> None:
    notes = tmp_path / "notes"
    write_files(notes, GOOD_FILES | {rel: data for rel, (data, _) in BAD_FILES.items()})
    kb = library.open("fans")

    report = kb.sync([FolderSource(notes, name="notes")])

    assert (report.added, report.updated, report.removed) == (len(GOOD_FILES), 0, 0)
    failed = {f.path: f for f in report.failed}
    assert set(failed) == set(BAD_FILES)
    for rel, (_, pattern) in BAD_FILES.items():
        assert_readable(failed[rel], pattern)
        assert failed[rel].doc_id == f"notes::{rel}"
    assert f"failed {len(BAD_FILES)}" in report.summary()
    stored = {e.path for e in kb.catalog.documents().values()}
    assert stored == set(GOOD_FILES)
    assert kb.collection.count() == kb.catalog.stats()["chunks"] > 0

    answer = kb.ask(MIC_QUESTION)
    assert not answer.abstained, answer.features
    assert answer.citations[0].path == "mic.md"
    assert "5 cm" in answer.text


@pytest.mark.slow
def test_a_good_file_that_turns_bad_keeps_its_last_good_version(tmp_path: Path, library) -> None:
    notes = tmp_path / "notes"
    write_files(notes, GOOD_FILES)
    kb = library.open("fans")
    source = FolderSource(notes, name="notes")
    assert kb.sync([source]).added == len(GOOD_FILES)
    before_docs = kb.catalog.documents()
    before_chunks = kb.catalog.chunk_ids()

    # A broken save of the note (Latin-1 bytes) and a PDF cut short by a failed copy.
    (notes / "mic.md").write_bytes(
        MIC_NOTE.replace("about", "\u00e0 peu pr\u00e8s").encode("cp1252")
    )
    (notes / "camera.pdf").write_bytes(good_pdf()[:700])
    report = kb.sync([source])

    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, 2, 0)
    assert {f.path for f in report.failed} == {"mic.md", "camera.pdf"}
    assert report.chunks_embedded == 0
    assert kb.catalog.documents() == before_docs  # same hashes: the last good versions
    assert kb.catalog.chunk_ids() == before_chunks
    assert set(kb.collection.get(include=[])["ids"]) == before_chunks

    answer = kb.ask(MIC_QUESTION)
    assert not answer.abstained
    assert answer.citations[0].path == "mic.md"
    assert "5 cm" in answer.text
    camera = kb.search("which camera do you stream with")
    assert camera and camera[0].chunk.path == "camera.pdf"

    # Once the file is fixed, the new version replaces the old one.
    (notes / "mic.md").write_text(MIC_NOTE.replace("5 cm", "7 cm"), encoding="utf-8")
    report = kb.sync([source])
    assert (report.updated, len(report.failed)) == (1, 1)
    assert "7 cm" in kb.ask(MIC_QUESTION).text
