"""One kind of user-facing error: every root derives from ingest.errors.UserFacingError, the
bot renders a named member as a mention and the command line as text, with no string surgery."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.cli_commands import UserError
from bot.cli_twitch import TwitchCliError
from bot.clips.errors import AlreadyDecided, ClipError
from bot.clips.states import ClipStatus, ReviewAction
from bot.errors import message_for
from bot.guild_config import SettingError
from bot.twitch.requests import RequestError
from ingest.connectors.spec import SourceSpecError
from ingest.errors import UserFacingError
from knowledge import KnowledgeError, StoreUnavailable


@pytest.mark.parametrize(
    "root",
    [KnowledgeError, StoreUnavailable, SettingError, ClipError, UserError, SourceSpecError,
     TwitchCliError, RequestError],
)  # fmt: skip
def test_every_root_is_a_user_facing_error(root: type[Exception]) -> None:
    assert issubclass(root, UserFacingError)


def test_value_errors_stay_value_errors() -> None:
    assert issubclass(SettingError, ValueError) and issubclass(SourceSpecError, ValueError)


def test_a_named_member_and_moment_are_discord_markup_in_discord_and_text_elsewhere() -> None:
    error = AlreadyDecided(7, ClipStatus.APPROVED, 42, ReviewAction.APPROVE, 100.0, now=130.0)
    assert error.user_id == 42
    # discord.utils.format_dt(..., "R"): the reader's client shows "30 seconds ago", kept current
    assert message_for(error) == "Clip #7 was already approved by <@42> <t:100:R>."
    assert str(error) == "Clip #7 was already approved by user 42 30 s ago."
    assert error.describe(lambda uid: f"member {uid}") == error.sentence(f"member {42}")


def test_a_hint_follows_the_message() -> None:
    error = UserFacingError("No such source.", hint="Try /kb sources.")
    assert str(error) == "No such source. Try /kb sources."
    assert message_for(error) == "No such source. Try /kb sources."


def test_the_cli_prints_any_user_facing_error(monkeypatch, capsys, tmp_path) -> None:
    from bot import cli_commands

    def fail(args, settings):
        raise SettingError("unknown setting 'x'")

    monkeypatch.setattr(cli_commands, "dispatch", fail)
    assert main(["--data-dir", str(tmp_path), "kb", "list"]) == 2
    assert capsys.readouterr().err == "greenroom: unknown setting 'x'\n"
