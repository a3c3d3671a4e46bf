"""The `greenroom` command line, run in-process with the session's model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot import cli_commands
from bot.cli import main
from tests.conftest import EXAMPLES_KB, EXAMPLES_QUESTIONS

pytestmark = pytest.mark.slow

EVAL_KEYS = {
    "recall@1",
    "recall@3",
    "recall@5",
    "recall@10",
    "mrr@10",
    "abstain_unanswerable",
    "wrong_abstain",
    "answered_right",
    "answered_wrong",
    "suggested_right",
    "suggested_wrong",
    "declined",
    "shown_right",
    "unanswerable_answered",
    "unanswerable_declined",
    "n_answerable",
    "n_unanswerable",
    "questions",
}


@pytest.fixture
def cli(cli_main):
    """run(*args) -> (exit code, stdout, stderr); libraries reuse the session's model."""
    return cli_main


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "mic.md").write_text(
        "---\ntitle: Mic setup\nurl: https://example.com/mic\n---\n"
        "# Mic setup\n\n## Distance\n\nThe SM7B microphone sits about 5 cm from my mouth.\n",
        encoding="utf-8",
    )
    (root / "rules.txt").write_text(
        "Breaking a chat rule a second time gets a 10-minute timeout.\n", encoding="utf-8"
    )
    (root / "broken.md").write_bytes(b"\0\1\2\3 binary junk" * 10)
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def fans(cli, notes: Path, data: Path) -> Path:
    """A data dir with the knowledge base 'fans' filled from `notes`."""
    code, _, err = cli("--data-dir", data, "ingest", notes, "--kb", "fans", "--no-progress")
    assert code == 0, err
    return data


def test_ingest_prints_a_summary_and_each_failure(cli, notes: Path, data: Path) -> None:
    code, out, err = cli("--data-dir", data, "ingest", notes, "--kb", "fans", "--no-progress")
    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(
        r"fans: added 2, updated 0, unchanged 0, removed 0, failed 1"
        r" \((\d+) chunks embedded, \d+\.\d s\)",
        lines[0],
    ), lines[0]
    assert lines[1] == "  failed: broken.md: is a binary file, not text"

    code, out, _ = cli("--data-dir", data, "ingest", notes, "--kb", "fans", "--no-progress")
    assert code == 0
    assert out.startswith("fans: added 0, updated 0, unchanged 2, removed 0, failed 1 (0 chunks")


def test_ingest_include_exclude(cli, notes: Path, data: Path) -> None:
    code, out, _ = cli(
        "--data-dir", data, "ingest", notes, "--kb", "fans", "--no-progress",
        "--include", "*.md", "--exclude", "broken*",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("fans: added 1, updated 0, unchanged 0, removed 0, failed 0")


def test_ask_json_keys(cli, fans: Path) -> None:
    code, out, err = cli(
        "--data-dir", fans, "ask", "how far from your mouth is the SM7B microphone", "--kb", "fans",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {
        "answer", "mode", "shown", "abstained", "learned", "confidence", "citations", "suggestions",
    }  # fmt: skip
    assert payload["mode"] == "answer" and payload["abstained"] is False
    assert payload["shown"] == [payload["answer"]] and payload["suggestions"] == []
    assert "5 cm" in payload["answer"]
    assert 0.5 <= payload["confidence"] <= 1
    first = payload["citations"][0]
    assert {"title", "heading", "path", "url", "passage"} <= set(first)
    assert (first["title"], first["heading"], first["path"], first["url"]) == (
        "Mic setup",
        "Distance",
        "mic.md",
        "https://example.com/mic",
    )
    assert "5 cm" in first["passage"]


def test_ask_plain_text(cli, fans: Path) -> None:
    code, out, _ = cli("--data-dir", fans, "ask", "how far is the SM7B microphone", "--kb", "fans")
    assert code == 0
    assert "5 cm" in out
    assert "[1] Mic setup › Distance (https://example.com/mic)" in out
    assert re.search(r"^\[answer\] confidence \d\.\d\d$", out, re.MULTILINE)


def test_kb_list_stats_remove(cli, fans: Path) -> None:
    code, out, _ = cli("--data-dir", fans, "kb", "list")
    assert code == 0
    assert re.fullmatch(r"fans\t2 documents\t(\d+) chunks\n", out), out

    code, out, _ = cli("--data-dir", fans, "kb", "stats", "--kb", "fans")
    assert code == 0
    stats = dict(line.split(": ", 1) for line in out.splitlines())
    assert stats["documents"] == "2"
    assert stats["chunks"] == stats["vectors"]
    assert stats["name"] == "fans"
    assert re.search(r"^source: .*notes \(2 documents\)$", out, re.MULTILINE)

    code, out, _ = cli("--data-dir", fans, "kb", "remove", "fans")
    assert (code, out) == (0, "removed knowledge base 'fans'\n")
    code, out, _ = cli("--data-dir", fans, "kb", "list")
    assert (code, out) == (0, f"no knowledge bases in {fans}\n")


def test_data_dir_from_the_environment(cli, fans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENROOM_DATA_DIR", str(fans))
    code, out, _ = cli("kb", "list")
    assert code == 0 and out.startswith("fans\t2 documents")


def test_eval_json_keys(cli, examples_library) -> None:
    code, out, err = cli(
        "--data-dir", examples_library.data_dir, "eval", EXAMPLES_QUESTIONS, "--kb", EXAMPLES_KB,
        "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == EVAL_KEYS
    assert (result["n_answerable"], result["n_unanswerable"]) == (41, 14)
    for key in EVAL_KEYS - {"n_answerable", "n_unanswerable", "questions"}:
        assert 0.0 <= result[key] <= 1.0, key
    assert result["recall@1"] <= result["recall@3"] <= result["recall@5"] <= result["recall@10"]
    assert len(result["questions"]) == 55
    for row in result["questions"]:
        assert {
            "id",
            "kind",
            "question",
            "rank",
            "abstained",
            "confidence",
            "mode",
            "shown",
        } <= set(row)
        assert row["mode"] in ("answer", "suggest", "decline")
        assert (
            len(row["shown"])
            == {"answer": 1, "suggest": len(row["shown"]), "decline": 0}[row["mode"]]
        )
    # The fan's view adds up: every answerable question is answered, suggested or declined.
    parts = ("answered_right", "answered_wrong", "suggested_right", "suggested_wrong", "declined")
    assert sum(result[k] for k in parts) == pytest.approx(1.0)


def test_eval_plain_text(cli, examples_library) -> None:
    code, out, _ = cli(
        "--data-dir", examples_library.data_dir, "eval", EXAMPLES_QUESTIONS, "--kb", EXAMPLES_KB,
        "-k", "3",
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "55 questions (41 answerable, 14 unanswerable) against 'examples'"
    assert lines[1].startswith("  Recall@3")
    assert "MRR@10" in out and "answered, wrong passage" in out
    assert "unanswerable given an answer" in out


def test_start_without_a_token_ingests_and_answers_samples(cli, notes: Path, data: Path) -> None:
    code, out, _ = cli("--data-dir", data, "start", "--notes", notes)
    assert code == 0
    assert out.startswith("default: added 2, updated 0, unchanged 0, removed 0, failed 1")
    assert out.count("\n> ") == len(cli_commands.SAMPLE_QUESTIONS_FOR_START)
    assert "confidence" in out
    assert "Set DISCORD_TOKEN" in out


# -- errors: a readable message on stderr and exit code 2 ----------------------------------------


def assert_user_error(result: tuple[int, str, str], *fragments: str) -> None:
    code, out, err = result
    assert code == 2, (out, err)
    assert err.startswith("greenroom: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_ask_a_missing_knowledge_base(cli, fans: Path) -> None:
    assert_user_error(
        cli("--data-dir", fans, "ask", "hello?", "--kb", "nope"),
        "there is no knowledge base 'nope'",
        "(known: fans)",
        "greenroom ingest PATH --kb nope",
    )


def test_missing_knowledge_base_in_an_empty_data_dir(cli, data: Path) -> None:
    assert_user_error(cli("--data-dir", data, "kb", "stats"), "(known: none yet)")
    assert_user_error(cli("--data-dir", data, "kb", "remove", "nope"), "no knowledge base 'nope'")


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "hello?", "--kb", "bad name!"),
        ("kb", "stats", "--kb", "../etc"),
        ("eval", str(EXAMPLES_QUESTIONS), "--kb", "bad name!"),
        ("ingest", ".", "--kb", "bad name!", "--no-progress"),
        ("kb", "remove", "bad name!"),
    ],
    ids=["ask", "kb-stats", "eval", "ingest", "kb-remove"],
)
def test_bad_knowledge_base_name(cli, data: Path, args: tuple[str, ...]) -> None:
    assert_user_error(cli("--data-dir", data, *args), "is not a valid knowledge base name")


def test_ingest_a_missing_path(cli, data: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-notes"
    assert_user_error(
        cli("--data-dir", data, "ingest", missing, "--no-progress"), f"{missing} does not exist"
    )
    assert not (data / "kb").exists()  # nothing was created


def test_eval_missing_or_malformed_questions(cli, fans: Path, tmp_path: Path) -> None:
    assert_user_error(
        cli("--data-dir", fans, "eval", tmp_path / "nope.jsonl", "--kb", "fans"), "does not exist"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q1", "question": "hi"}\nnot json\n', encoding="utf-8")
    assert_user_error(
        cli("--data-dir", fans, "eval", bad, "--kb", "fans"), "bad.jsonl:2: not a question line"
    )


def test_ask_a_too_long_question(cli, fans: Path) -> None:
    assert_user_error(
        cli("--data-dir", fans, "ask", "x" * 4000, "--kb", "fans"), "4,000 characters"
    )


def test_unknown_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["--data-dir", str(tmp_path), "--model", "no-such-model", "kb", "list"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "'no-such-model' is neither 'all-MiniLM-L6-v2' nor a local model folder" in err


def test_no_command_prints_help(cli) -> None:
    code, out, _ = cli()
    assert code == 2
    assert "usage: greenroom" in out
