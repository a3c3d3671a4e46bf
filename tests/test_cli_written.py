"""`greenroom ask --llm` and `greenroom eval --llm` against the loopback chat-completions double
(served from a thread of its own: the command line runs its own event loop)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES_KB, EXAMPLES_QUESTIONS
from tests.llm_double import LLMDouble, Reply
from tests.test_cli import EVAL_KEYS

pytestmark = pytest.mark.slow

KEY = "sk-cli-test-key-4b1d77e0"
ASK_KEYS = {
    "answer", "mode", "shown", "abstained", "learned", "confidence", "citations", "suggestions",
}  # fmt: skip
QUESTION = "how far from your mouth is the SM7B microphone"


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[LLMDouble]:
    with LLMDouble().in_thread() as double:
        monkeypatch.setenv("GREENROOM_LLM_BASE_URL", double.url)
        monkeypatch.setenv("GREENROOM_LLM_MODEL", "double-model")
        monkeypatch.setenv("GREENROOM_LLM_API_KEY", KEY)
        monkeypatch.setenv("GREENROOM_LLM_TIMEOUT_SECONDS", "3")
        yield double


@pytest.fixture
def fans(cli_main, tmp_path: Path) -> Path:
    """A data dir with the knowledge base 'fans': a public note and a private one."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "mic.md").write_text(
        "---\ntitle: Mic setup\nurl: https://example.com/mic\n---\n"
        "# Mic setup\n\n## Distance\n\nThe SM7B microphone sits about 5 cm from my mouth.\n",
        encoding="utf-8",
    )
    (notes / "secret.md").write_text(
        "---\ntitle: Mic sponsor\nvisibility: private\n---\n# Mic sponsor\n\n"
        "The SM7B microphone deal with Kestrel Audio has the codename MARIGOLD-7.\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    code, _, err = cli_main("--data-dir", data, "ingest", notes, "--kb", "fans", "--no-progress")
    assert code == 0, err
    return data


def test_ask_llm_json_is_a_written_answer_with_its_citations(cli_main, fans, llm, caplog):
    caplog.set_level(logging.DEBUG)
    code, out, err = cli_main(
        "--data-dir", fans, "-v", "ask", QUESTION, "--kb", "fans", "--json", "--llm"
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == ASK_KEYS | {"written", "cited", "llm"}
    assert payload["mode"] == "answer" and payload["written"] is True
    assert payload["answer"] == "The SM7B microphone sits about 5 cm from my mouth [1]."
    assert payload["shown"] == [payload["answer"]] and payload["cited"] == [1]
    assert payload["citations"][0]["title"] == "Mic setup"
    llm_part = payload["llm"]
    assert (llm_part["model"], llm_part["outcome"], llm_part["reason"]) == (
        "double-model",
        "written",
        None,
    )
    assert llm_part["prompt_tokens"] > 0 and llm_part["completion_tokens"] > 0
    (request,) = llm.requests
    assert not request.stream and request.headers["Authorization"] == f"Bearer {KEY}"
    assert "MARIGOLD" not in llm.bodies[0] and "Kestrel" not in llm.bodies[0]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert KEY not in out + err + logged


def test_ask_llm_plain_text_names_the_model_and_the_cited_source(cli_main, fans, llm):
    code, out, _ = cli_main("--data-dir", fans, "ask", QUESTION, "--kb", "fans", "--llm")
    assert code == 0
    assert out.startswith("The SM7B microphone sits about 5 cm from my mouth [1].\n")
    assert "[1] Mic setup › Distance (https://example.com/mic)" in out
    assert out.rstrip().endswith("(written by double-model)")


def test_ask_llm_falls_back_to_the_extractive_answer_and_says_why(cli_main, fans, llm):
    llm.script(Reply(status=500))
    code, out, err = cli_main("--data-dir", fans, "ask", QUESTION, "--kb", "fans", "--llm")
    assert code == 0
    assert "greenroom: written answer: failed (HTTP 500 from the model server)" in err
    assert "5 cm" in out and "written by" not in out
    assert "[answer] confidence" in out

    llm.script(Reply("NOT_IN_NOTES"))
    code, out, _ = cli_main(
        "--data-dir", fans, "ask", QUESTION, "--kb", "fans", "--llm", "--json"
    )  # fmt: skip
    payload = json.loads(out)
    assert code == 0 and payload["mode"] == "suggest" and payload["written"] is False
    assert payload["llm"]["outcome"] == "not_in_notes"


def test_llm_without_a_model_says_what_to_set(cli_main, fans, monkeypatch):
    for var in ("GREENROOM_LLM_BASE_URL", "GREENROOM_LLM_MODEL", "GREENROOM_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    code, out, err = cli_main("--data-dir", fans, "ask", QUESTION, "--kb", "fans", "--llm")
    assert code == 2 and out == ""
    assert "--llm needs a language model: set GREENROOM_LLM_BASE_URL" in err

    monkeypatch.setenv("GREENROOM_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    code, _, err = cli_main("--data-dir", fans, "ask", QUESTION, "--kb", "fans", "--llm")
    assert code == 2 and "GREENROOM_LLM_MODEL is not set" in err

    monkeypatch.setenv("DISCORD_TOKEN", "discord.token.value")
    code, _, err = cli_main("--data-dir", fans, "run")  # said before the bot starts
    assert code == 2 and "GREENROOM_LLM_MODEL is not set" in err
    monkeypatch.delenv("DISCORD_TOKEN")

    code, out, _ = cli_main("--data-dir", fans, "ask", QUESTION, "--kb", "fans", "--json")
    assert code == 0 and set(json.loads(out)) == ASK_KEYS  # without --llm nothing changes


def test_eval_llm_reports_the_same_fan_facing_keys(cli_main, examples_library, llm):
    code, out, err = cli_main(
        "--data-dir", examples_library.data_dir, "eval", EXAMPLES_QUESTIONS, "--kb", EXAMPLES_KB,
        "--json", "--llm",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == EVAL_KEYS | {"llm"}
    for key in EVAL_KEYS - {"n_answerable", "n_unanswerable", "questions"}:
        assert 0.0 <= result[key] <= 1.0, key
    parts = ("answered_right", "answered_wrong", "suggested_right", "suggested_wrong", "declined")
    assert sum(result[k] for k in parts) == pytest.approx(1.0)
    rows = result["questions"]
    assert len(rows) == 55
    for row in rows:
        assert {"mode", "shown", "written", "llm_outcome", "cited_right"} <= set(row)
        if row["written"]:  # an answer, or hedged over the suggestions where we would suggest
            assert row["mode"] in ("answer", "suggest")
            assert len(row["shown"]) == 1 if row["mode"] == "answer" else len(row["shown"]) > 1
    llm_part = result["llm"]
    skipped = llm_part["outcomes"].get("skipped", 0)  # declined by our confidence: not sent
    assert 0 < skipped < 55 and llm_part["calls"] == len(llm.requests) == 55 - skipped
    assert llm_part["written_answers"] == sum(r["written"] for r in rows) > 0
    assert sum(llm_part["outcomes"].values()) == 55
    assert llm_part["prompt_tokens"] > 0 and llm_part["seconds_p95"] >= llm_part["seconds_mean"] > 0
    # Nothing private in the examples reached the model.
    assert not any("Kestrel" in body for body in llm.bodies)

    code, out, _ = cli_main(
        "--data-dir", examples_library.data_dir, "eval", EXAMPLES_QUESTIONS, "--kb", EXAMPLES_KB,
        "--llm",
    )  # fmt: skip
    assert code == 0 and "  written answers: " in out and "calls" in out
