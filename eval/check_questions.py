#!/usr/bin/env python3
"""Check an eval question file (JSON lines) against the documents it points to.

Usage:
    python eval/check_questions.py eval/corpus_questions.jsonl /work/shared/corpus
    python eval/check_questions.py eval/examples_questions.jsonl examples/notes

Each line must be a JSON object with exactly the keys
    id, question, source, heading, answer_hint, kind
and these rules must hold:

* ``kind`` is one of fact, how, why, unanswerable; ids are unique.
* unanswerable questions have ``source``, ``heading`` and ``answer_hint`` all "".
* answerable questions:
  - ``source`` is a file under ROOT (path relative to ROOT);
  - ``answer_hint`` has 2-8 words and contains none of  * ` [ ] | < > # _
  - ``answer_hint`` occurs in the file text (case-insensitive, whitespace
    normalised), and within one single line (so it crosses no line break and
    no list-item boundary). For .html files the visible text is used;
  - ``heading`` is a heading of the file (ATX ``#`` or setext for Markdown and
    text files, <h1>-<h6> for HTML; the front-matter ``title`` stands for the
    text before the first heading), and the hint occurs in the section that
    starts at that heading and ends at the next heading of any level.

Prints one line per failure ("<id>: <reason>") and exits 1 if anything failed.
Plain standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

KEYS = {"id", "question", "source", "heading", "answer_hint", "kind"}
KINDS = {"fact", "how", "why", "unanswerable"}
FORBIDDEN = set("*`[]|<>#_")

ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
TITLE_RE = re.compile(r"^title\s*:\s*(.*?)\s*$", re.IGNORECASE)


def norm(text: str) -> str:
    """Lower-case and collapse all whitespace to single spaces."""
    return " ".join(text.split()).lower()


def norm_heading(text: str) -> str:
    """Normalise a heading for comparison: drop Markdown/HTML markup and anchors."""
    text = re.sub(r"\{#[^}]*\}\s*$", "", text)  # trailing {#anchor}
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url)
    text = re.sub(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]", r"\1", text)  # [[a|b]]
    text = re.sub(r"[*`_]", "", text)
    text = text.strip().strip("\"'").strip()
    return norm(text)


class _HtmlText(HTMLParser):
    """Turn HTML into text lines; headings become Markdown ATX headings."""

    BLOCK: ClassVar[set[str]] = {
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "br",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "pre",
        "blockquote",
        "title",
        "td",
        "th",
    }
    HEADINGS: ClassVar[set[str]] = {"h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.HEADINGS:
            self.parts.append("\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.HEADINGS or tag in self.BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.skip:
            # Inside a block, source line breaks are just whitespace.
            self.parts.append(" ".join(data.split("\n")))

    def text(self) -> str:
        return "".join(self.parts)


def html_to_text(raw: str) -> tuple[str, str | None]:
    title = None
    m = re.search(r"<title[^>]*>(.*?)</title>", raw, re.IGNORECASE | re.DOTALL)
    if m:
        title = " ".join(m.group(1).split())
    parser = _HtmlText()
    parser.feed(raw)
    parser.close()
    return parser.text(), title


def split_front_matter(raw: str) -> tuple[list[str], str | None]:
    """Return (body lines, front-matter title) for a Markdown/text file."""
    lines = raw.splitlines()
    title = None
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                for fm_line in lines[1:i]:
                    m = TITLE_RE.match(fm_line)
                    if m and title is None:
                        title = m.group(1)
                # keep line count: blank out the front matter
                return [""] * (i + 1) + lines[i + 1 :], title
    return lines, title


def sections(lines: list[str], title: str | None) -> list[tuple[str, list[str]]]:
    """Split body lines into (heading, lines) sections at every heading."""
    result: list[tuple[str, list[str]]] = [(title or "", [])]
    in_fence = None
    prev_is_text = False
    for line in lines:
        fence = FENCE_RE.match(line)
        if in_fence:
            result[-1][1].append(line)
            if fence and fence.group(1)[0] == in_fence[0] and len(fence.group(1)) >= len(in_fence):
                in_fence = None
            prev_is_text = False
            continue
        if fence:
            in_fence = fence.group(1)
            result[-1][1].append(line)
            prev_is_text = False
            continue
        atx = ATX_RE.match(line)
        if atx:
            result.append((atx.group(2) or "", []))
            prev_is_text = False
            continue
        setext = SETEXT_RE.match(line)
        if setext and prev_is_text and result[-1][1]:
            heading_line = result[-1][1].pop()
            result.append((heading_line.strip(), []))
            prev_is_text = False
            continue
        result[-1][1].append(line)
        stripped = line.lstrip()
        prev_is_text = bool(stripped) and not stripped.startswith(("-", "*", "+", ">", "|"))
    return result


def load(path: Path) -> tuple[str, list[tuple[str, list[str]]]]:
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in (".html", ".htm"):
        text, title = html_to_text(raw)
        lines = text.splitlines()
        return text, sections(lines, title)
    lines, title = split_front_matter(raw)
    return raw, sections(lines, title)


def check_record(rec: dict, root: Path, cache: dict) -> list[str]:
    errors: list[str] = []
    if set(rec) != KEYS:
        return [f"keys are {sorted(rec)}, expected {sorted(KEYS)}"]
    for key in KEYS:
        if not isinstance(rec[key], str):
            errors.append(f"{key} is not a string")
    if errors:
        return errors
    if rec["kind"] not in KINDS:
        errors.append(f"bad kind {rec['kind']!r}")
    if not rec["question"].strip():
        errors.append("empty question")
    if rec["kind"] == "unanswerable":
        if rec["source"] or rec["heading"] or rec["answer_hint"]:
            errors.append("unanswerable question must have empty source/heading/answer_hint")
        return errors

    hint = rec["answer_hint"]
    n_words = len(hint.split())
    if not 2 <= n_words <= 8:
        errors.append(f"answer_hint has {n_words} words (need 2-8)")
    bad = sorted(set(hint) & FORBIDDEN)
    if bad:
        errors.append(f"answer_hint contains forbidden characters {''.join(bad)!r}")
    if "\n" in hint:
        errors.append("answer_hint contains a line break")

    path = root / rec["source"]
    if not rec["source"] or not path.is_file():
        errors.append(f"source file not found: {rec['source']!r}")
        return errors
    if path not in cache:
        cache[path] = load(path)
    text, secs = cache[path]

    nhint = norm(hint)
    if nhint not in norm(text):
        errors.append("answer_hint not found in file text")
        return errors
    all_lines = [ln for _, sec_lines in secs for ln in sec_lines]
    if not any(nhint in norm(ln) for ln in all_lines):
        errors.append("answer_hint only found across a line break")

    want = norm_heading(rec["heading"])
    matching = [sec_lines for h, sec_lines in secs if norm_heading(h) == want]
    if not matching:
        errors.append(f"heading not found in file: {rec['heading']!r}")
    elif not any(nhint in norm(ln) for sec_lines in matching for ln in sec_lines):
        where = [h for h, sec_lines in secs if any(nhint in norm(ln) for ln in sec_lines)]
        errors.append(f"answer_hint not under heading {rec['heading']!r} (found under {where!r})")
    return errors


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[0])
        print("usage: check_questions.py QUESTIONS.jsonl ROOT_DIR", file=sys.stderr)
        return 2
    qfile, root = Path(argv[1]), Path(argv[2])
    if not root.is_dir():
        print(f"root directory not found: {root}", file=sys.stderr)
        return 2

    failures = 0
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    cache: dict = {}
    total = 0
    for lineno, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        total += 1
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            print(f"line {lineno}: invalid JSON ({exc})")
            failures += 1
            continue
        if not isinstance(rec, dict):
            print(f"line {lineno}: not a JSON object")
            failures += 1
            continue
        qid = rec.get("id", f"line {lineno}")
        errors = check_record(rec, root, cache)
        if qid in seen:
            errors.append("duplicate id")
        seen.add(qid)
        kinds[rec.get("kind")] = kinds.get(rec.get("kind"), 0) + 1
        for err in errors:
            print(f"{qid}: {err}")
        failures += bool(errors)

    summary = ", ".join(f"{k}={v}" for k, v in sorted(kinds.items(), key=lambda kv: str(kv[0])))
    status = "FAIL" if failures else "OK"
    print(f"{status}: {total} questions, {failures} failing ({summary})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
