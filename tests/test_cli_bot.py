"""The bot-side commands of the CLI: console, config, start, run and sync-commands."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.test_cli import cli, data, fans, notes  # noqa: F401 - shared fixtures


def test_console_renders_answers_like_the_bot(cli, fans: Path, monkeypatch) -> None:  # noqa: F811
    questions = "how far from your mouth is the SM7B microphone?\n\n" + "why " * 300 + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(questions))
    code, out, err = cli("--data-dir", fans, "console", "--kb", "fans")
    assert code == 0, err
    first = out.split("\n\n== ", 1)[0]
    assert first.startswith("== how far from your mouth is the SM7B microphone? ==")
    assert "5 cm" in first and "Sources:" in first and "[Mic setup › Distance]" in first
    assert "characters long" in out  # a too-long question gets the bot's message


def test_config_set_and_show(cli, data: Path) -> None:  # noqa: F811
    code, out, _ = cli("--data-dir", data, "config", "set", "--guild", "42", "mod_roles", "7,8")
    assert code == 0 and "mod_roles = 7, 8" in out
    code, out, _ = cli("--data-dir", data, "config", "show", "--guild", "42")
    assert "mod_roles = 7, 8" in out and "auto_answer = off" in out
    code, _, err = cli("--data-dir", data, "config", "set", "--guild", "42", "auto_answer", "maybe")
    assert code == 2 and "not a valid value for auto_answer" in err


@pytest.mark.parametrize("command", ["run", "sync-commands"])
def test_bot_commands_need_a_token(cli, data: Path, command: str) -> None:  # noqa: F811
    code, _, err = cli("--data-dir", data, command)
    assert code == 2 and "DISCORD_TOKEN is not set" in err


def test_start_without_token_ingests_the_samples_and_answers(cli, data: Path, notes: Path) -> None:  # noqa: F811
    code, out, err = cli("--data-dir", data, "start", "--notes", notes)
    assert code == 0, err
    assert out.startswith("default: added 2")
    assert "> how did you make the stream intro?" in out
    assert "Set DISCORD_TOKEN" in out
