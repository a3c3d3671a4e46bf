"""Loaders: every supported format, front matter, Obsidian syntax, and folder walking."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest.chunking import WordTokenizer, chunk_document, split_sections
from ingest.documents import PRIVATE, PUBLIC, Document, LoadFailure
from ingest.loaders import FolderSource, load_file, supported_suffixes
from tests.ingest.sample_files import make_docx, make_pdf


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_one(root: Path, rel: str, content: str | bytes) -> Document:
    path = write(root, rel, content)
    result = load_file(path, doc_id=f"t::{rel}", rel=rel, source="t")
    assert isinstance(result, Document), result
    return result


def load_folder(root: Path, **kwargs) -> dict[str, Document | LoadFailure]:
    source = FolderSource(root, name="t", **kwargs)
    return {r.doc_id.removeprefix("t::"): r for r in source.load()}


def headings_of(text: str) -> set[tuple[str, ...]]:
    return {s.heading_path for s in split_sections(text)}


# -- Markdown ------------------------------------------------------------------------------


def test_markdown_front_matter_fields(tmp_path: Path) -> None:
    doc = load_one(
        tmp_path,
        "notes/intro.md",
        "---\n"
        "title: How I made the intro\n"
        "tags: [AI-Clips, '#Sora', intro]\n"
        "url: https://example.com/intro\n"
        "visibility: Private\n"
        "tool: Sora 2\n"
        "settings:\n  duration: 10 s\n  seed: 42\n"
        "date: 2024-05-01\n"
        "---\n"
        "# Neon intro\n\nThe intro took 14 generations.\n",
    )
    assert doc.title == "How I made the intro"
    assert doc.tags == ("ai-clips", "intro", "sora")  # lower-cased, '#' dropped, sorted
    assert doc.url == "https://example.com/intro"
    assert doc.visibility == PRIVATE
    assert doc.metadata == {
        "tool": "Sora 2",
        "settings": "duration: 10 s, seed: 42",
        "date": "2024-05-01",  # kept a string, not turned into a datetime
    }
    assert doc.doc_id == "t::notes/intro.md"
    assert doc.path == "notes/intro.md"
    assert doc.source == "t"
    # The body is what follows the front matter: no YAML leaks into the indexed text.
    assert doc.text.startswith("# Neon intro")
    assert "visibility" not in doc.text


def test_markdown_tags_as_comma_string_and_public_default(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "a.md", "---\ntags: gear, Setup hardware\n---\nSM7B mic.\n")
    assert doc.tags == ("gear", "hardware", "setup")
    assert doc.visibility == PUBLIC
    assert doc.url is None


def test_markdown_url_must_be_http_and_permalink_is_accepted(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "a.md", "---\nurl: javascript:alert(1)\n---\nText.\n")
    assert doc.url is None
    doc = load_one(tmp_path, "b.md", "---\npermalink: https://example.com/b\n---\nText.\n")
    assert doc.url == "https://example.com/b"


def test_markdown_title_falls_back_to_h1_then_file_name(tmp_path: Path) -> None:
    assert load_one(tmp_path, "a.md", "Intro text.\n\n# The Heading\n\nMore.").title == (
        "The Heading"
    )
    assert load_one(tmp_path, "brb-screen.md", "No heading here.\n").title == "brb-screen"


def test_markdown_h1_inside_code_fence_is_not_the_title(tmp_path: Path) -> None:
    doc = load_one(
        tmp_path,
        "setup.md",
        "```bash\n# install the tools first\npip install x\n```\n\n# OBS setup\n\nScenes.\n",
    )
    assert doc.title == "OBS setup"


def test_utf16_crlf_markdown_keeps_its_front_matter(tmp_path: Path) -> None:
    """Windows Notepad's "Unicode" (UTF-16 + BOM, CRLF): a private note must stay private."""
    text = "---\r\nvisibility: private\r\ntitle: Sponsor deal\r\n---\r\n# Deal\r\n\r\nSecret.\r\n"
    doc = load_one(tmp_path, "deal.md", text.encode("utf-16"))
    assert (doc.visibility, doc.title) == (PRIVATE, "Sponsor deal")
    assert doc.text == "# Deal\n\nSecret.\n"


def test_markdown_unknown_visibility_is_private(tmp_path: Path) -> None:
    """Failing the file would keep its last version, public perhaps, answerable: fail closed."""
    doc = load_one(tmp_path, "a.md", "---\nvisibility: secret\n---\nText.\n")
    assert doc.visibility == PRIVATE


def test_obsidian_wikilinks_embeds_and_comments(tmp_path: Path) -> None:
    doc = load_one(
        tmp_path,
        "vault/note.md",
        "See [[Gear List]] and [[streaming/obs-setup|my OBS notes]].\n"
        "Jump to [[faq#Who made the emotes?]] or [[#Raids]].\n"
        "![[moth-banner.png]]\n"
        "Hidden %%obsidian comment%% and <!-- html comment --> gone.\n",
    )
    assert "See Gear List and my OBS notes." in doc.text
    assert "Jump to faq (Who made the emotes?) or Raids." in doc.text
    for gone in ("[[", "]]", "moth-banner", "obsidian comment", "html comment"):
        assert gone not in doc.text


def test_mdx_imports_and_jsx_are_removed_text_kept(tmp_path: Path) -> None:
    doc = load_one(
        tmp_path,
        "docs/alerts.mdx",
        "---\ntitle: Alerts\n---\n"
        "import Callout from '../components/Callout'\n"
        "export const meta = {}\n\n"
        "## Raid alert\n\n"
        '<Callout type="tip">Raids of 5 viewers or more play the big moth.</Callout>\n'
        "<Video.Player src='x.mp4' />\n",
    )
    assert doc.title == "Alerts"
    assert "import" not in doc.text and "export" not in doc.text
    assert "<" not in doc.text
    assert "Raids of 5 viewers or more play the big moth." in doc.text
    assert ("Raid alert",) in headings_of(doc.text)


# -- Plain text ----------------------------------------------------------------------------


def test_text_file_title_from_name_and_newlines_normalised(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "chat_commands-list.txt", b"!discord\r\n  Posts the invite.\r\n")
    assert doc.title == "chat commands list"
    assert doc.text == "!discord\n  Posts the invite.\n"


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "Café setup – naïve.".encode(),
        "Café setup – naïve.".encode("utf-16"),  # with a BOM
    ],
    ids=["utf-8-bom", "utf-16-bom"],
)
def test_text_encodings_with_bom(tmp_path: Path, data: bytes) -> None:
    assert load_one(tmp_path, "a.txt", data).text == "Café setup – naïve."


# -- HTML ----------------------------------------------------------------------------------


def test_html_headings_lists_links_and_dropped_chrome(tmp_path: Path) -> None:
    doc = load_one(
        tmp_path,
        "luts.html",
        "<!doctype html><html><head><title>Colour grading LUTs</title>"
        "<style>.x{color:red}</style><script>var secret = 1;</script></head><body>"
        "<nav>Home | About</nav>"
        "<main><h1>LUTs</h1><p>I grade in <b>DaVinci</b> Resolve.</p>"
        "<h2>Pink turns orange</h2><p>Lower saturation to about 85 percent.</p>"
        "<ul><li>Export at Rec.709</li><li>Check on a phone</li></ul>"
        "<ol><li>first</li><li>second</li></ol>"
        '<p>Docs: <a href="https://example.com/luts">the LUT guide</a>, '
        '<a href="/local">local link</a>.</p>'
        "<pre>ffmpeg -i in.mp4\n  -vf lut3d=moth.cube out.mp4</pre></main>"
        "<footer>© PixelMoth</footer></body></html>",
    )
    assert doc.title == "Colour grading LUTs"
    assert headings_of(doc.text) >= {("LUTs",), ("LUTs", "Pink turns orange")}
    assert "I grade in **DaVinci** Resolve." in doc.text  # emphasis kept, as in Markdown notes
    assert "- Export at Rec.709\n- Check on a phone" in doc.text
    assert "1. first\n2. second" in doc.text
    assert "[the LUT guide](https://example.com/luts)" in doc.text
    assert "local link" in doc.text and "(/local)" not in doc.text
    assert "```\nffmpeg -i in.mp4\n  -vf lut3d=moth.cube out.mp4\n```" in doc.text
    for gone in ("secret", "color:red", "Home | About", "PixelMoth"):
        assert gone not in doc.text


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    assert load_one(tmp_path, "a.htm", "<h1>Alerts</h1><p>Body.</p>").title == "Alerts"


def test_html_fragment_title_is_not_body_text(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "a.html", "<title>Alerts page</title><p>Body.</p>")
    assert doc.title == "Alerts page"
    assert doc.text == "Body.\n"


# -- PDF and DOCX --------------------------------------------------------------------------


def test_pdf_pages_become_sections_and_title_from_metadata(tmp_path: Path) -> None:
    data = make_pdf(
        [["The microphone is a Shure SM7B.", "Gain at 60 percent."], ["The camera is a ZV-E10."]],
        title="Gear list",
    )
    doc = load_one(tmp_path, "gear.pdf", data)
    assert doc.title == "Gear list"
    sections = {s.heading_path: doc.text[s.start : s.end] for s in split_sections(doc.text)}
    assert set(sections) == {("Page 1",), ("Page 2",)}
    assert "Shure SM7B" in sections[("Page 1",)]
    assert "Gain at 60 percent" in sections[("Page 1",)]
    assert "ZV-E10" in sections[("Page 2",)]


def test_pdf_without_title_uses_file_name(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "scan-notes.pdf", make_pdf([["Hello moth."]], title=""))
    assert doc.title == "scan-notes"


def test_docx_headings_lists_tables_and_title(tmp_path: Path) -> None:
    data = make_docx(
        title="Stream checklist",
        blocks=[
            ("h1", "Before going live"),
            ("p", "Check the mic gain."),
            ("li", "Mute Discord"),
            ("li", "Start the BRB scene"),
            ("h2", "Audio"),
            ("p", "The SM7B sits 5 cm away."),
        ],
        table=[["Scene", "Hotkey"], ["BRB", "F9"]],
    )
    doc = load_one(tmp_path, "checklist.docx", data)
    assert doc.title == "Stream checklist"
    assert "# Before going live" in doc.text
    assert "## Audio" in doc.text
    assert "- Mute Discord\n- Start the BRB scene" in doc.text
    assert "Scene | Hotkey\nBRB | F9" in doc.text
    assert ("Before going live", "Audio") in headings_of(doc.text)


def test_docx_title_style_paragraph_is_the_title_without_core_property(tmp_path: Path) -> None:
    data = make_docx(title_paragraph="Mod handbook", blocks=[("p", "Be kind.")])
    doc = load_one(tmp_path, "handbook.docx", data)
    assert doc.title == "Mod handbook"


# -- Folders and vaults --------------------------------------------------------------------


def test_folder_walk_skips_obsidian_hidden_and_unsupported_files(tmp_path: Path) -> None:
    write(tmp_path, "start.md", "# Start\n\nHello.\n")
    write(tmp_path, "streaming/obs.md", "OBS notes.\n")
    write(tmp_path, "streaming/Upper.MD", "Upper-case suffix.\n")
    write(tmp_path, ".obsidian/workspace.md", "editor state\n")
    write(tmp_path, ".obsidian/plugins/x/README.md", "plugin readme\n")
    write(tmp_path, ".trash/old.md", "deleted note\n")
    write(tmp_path, ".git/notes.md", "git internals\n")
    write(tmp_path, ".hidden.md", "hidden file\n")
    write(tmp_path, "banner.png", b"\x89PNG\r\n\x1a\n")
    write(tmp_path, "data.json", "{}")
    results = load_folder(tmp_path)
    assert sorted(results) == ["start.md", "streaming/Upper.MD", "streaming/obs.md"]
    assert all(isinstance(r, Document) for r in results.values())
    assert FolderSource(tmp_path, name="t").list_ids() == {f"t::{rel}" for rel in results}


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), (), {"a.md", "b.txt", "prompts/p.md", "prompts/drafts/d.md", "site/page.html"}),
        (("*.md",), (), {"a.md", "prompts/p.md", "prompts/drafts/d.md"}),  # '*' spans folders
        (("prompts/*",), ("prompts/drafts/*",), {"prompts/p.md"}),
        ((), ("*.txt", "site/*"), {"a.md", "prompts/p.md", "prompts/drafts/d.md"}),
        (("*.md", "*.html"), ("*/drafts/*",), {"a.md", "prompts/p.md", "site/page.html"}),
    ],
)
def test_include_and_exclude_globs(
    tmp_path: Path, include: tuple, exclude: tuple, expected: set[str]
) -> None:
    for rel in ("a.md", "b.txt", "prompts/p.md", "prompts/drafts/d.md"):
        write(tmp_path, rel, f"Note {rel}.\n")
    write(tmp_path, "site/page.html", "<p>Page.</p>")
    source = FolderSource(tmp_path, include=include, exclude=exclude, name="t")
    assert {r.path for r in source.load()} == expected
    assert source.list_ids() == {f"t::{rel}" for rel in expected}


def test_single_file_as_root_and_default_source_name(tmp_path: Path) -> None:
    path = write(tmp_path, "faq.md", "# FAQ\n\nAsk away.\n")
    (result,) = list(FolderSource(path).load())
    assert isinstance(result, Document)
    assert result.path == "faq.md"
    assert result.source == str(path.resolve())
    assert result.doc_id == f"{path.resolve()}::faq.md"


def test_supported_suffixes() -> None:
    assert supported_suffixes() >= {".md", ".mdx", ".markdown", ".txt", ".html", ".pdf", ".docx"}


def test_loaded_html_chunks_carry_heading_paths(tmp_path: Path) -> None:
    doc = load_one(
        tmp_path,
        "alerts.html",
        "<title>Alerts</title><h1>Alerts</h1><h2>Raids</h2><p>Five viewers or more.</p>"
        "<h2>Follows</h2><p>A small moth flutters by.</p>",
    )
    chunks = chunk_document(doc, WordTokenizer())
    # The H1 repeats the title, so it is not repeated in the heading path.
    assert [(c.heading_path, c.text.strip()) for c in chunks] == [
        (("Raids",), "Five viewers or more."),
        (("Follows",), "A small moth flutters by."),
    ]
    assert all(c.prefix.startswith("Alerts › ") for c in chunks)


def test_long_encoded_import_strings_are_not_indexed(tmp_path):
    from ingest.loaders.markdown import ENCODED_PLACEHOLDER, load_markdown

    blob = "U0JBRR+LCAAAAAAABADtWVtv2zYU/" * 40 + "=="
    fields = load_markdown(
        f"# Import\n\nPaste this:\n\n```\n{blob}\n```\n\nThen click OK.\n", name="x"
    )
    assert blob not in fields["text"]
    assert ENCODED_PLACEHOLDER in fields["text"] and "Then click OK." in fields["text"]
    short = "c2hvcnQ="  # short base64-looking words stay
    assert short in load_markdown(f"token {short} here", name="y")["text"]
