"""`greenroom twitch login|reward create|status` against the Twitch double: the device-code
login (twitchAPI's CodeFlow) prints the link and stores the tokens (0600), a reward is created
on Twitch and linked to a server, status shows the login, the rewards and whether EventSub was
revoked; no token is ever printed or logged."""

from __future__ import annotations

import asyncio
import json
import logging
import stat

import pytest

from bot.cli import main
from tests.twitch.conftest import CLIENT_ID, CLIENT_SECRET

GUILD = 123456789012345678


@pytest.fixture
def env(twitch, tmp_path, monkeypatch):
    monkeypatch.setenv("GREENROOM_TWITCH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("GREENROOM_TWITCH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("GREENROOM_TWITCH_AUTH_URL", twitch.auth_url)
    monkeypatch.setenv("GREENROOM_TWITCH_API_URL", twitch.api_url)
    monkeypatch.setenv("GREENROOM_DATA_DIR", str(tmp_path / "data"))
    twitch.device_pending_polls = 0  # approved at once (CodeFlow waits 1 s between polls)
    return tmp_path / "data"


async def greenroom(*argv: str) -> int:
    """The CLI in a thread (it runs its own event loop) while the double serves in this one."""
    return await asyncio.to_thread(main, ["-v", *argv])


async def test_login_reward_create_and_status(twitch, env, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    broadcaster = twitch.add_user("PixelMoth")
    twitch.device_user = broadcaster
    assert await greenroom("twitch", "status") == 0
    assert "login: none" in capsys.readouterr().out

    assert await greenroom("twitch", "login") == 0
    out = capsys.readouterr().out
    assert "Open https://www.twitch.tv/activate?device-code=" in out and "enter the code" in out
    assert "Logged in to Twitch as PixelMoth" in out
    token_file = env / "twitch_tokens.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    stored = json.loads(token_file.read_text())
    assert stored["user_id"] == broadcaster and stored["client_id"] == CLIENT_ID

    code = await greenroom(
        "twitch", "reward", "create", "--guild", str(GUILD), "--title", "Frog cameo",
        "--cost", "500", "--prompt", "Which creature goes in the next intro?",
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Created the reward “Frog cameo” (500 points" in out
    (reward,) = twitch.rewards.values()
    assert reward["prompt"] == "Which creature goes in the next intro?"
    assert reward["client_id"] == CLIENT_ID and reward["is_user_input_required"]

    twitch.add_redemption(reward["id"], "fan", "a frog", notify=False)
    twitch.expire_tokens()  # status still works: the token is refreshed on use, not here
    assert await greenroom("twitch", "status") == 0
    out = capsys.readouterr().out
    assert f"login: PixelMoth (id {broadcaster})" in out and "mode 0600" in out
    assert "channel:manage:redemptions" in out
    assert f"reward “Frog cameo” (500 points, id {reward['id']}) -> server {GUILD}" in out

    secrets = [*twitch.tokens, *twitch.refresh_tokens, CLIENT_SECRET, stored["access_token"]]
    logged = " ".join(r.getMessage() for r in caplog.records) + out
    for secret in secrets:
        assert secret not in logged


async def test_cli_refusals_are_plain_errors(twitch, env, capsys, monkeypatch):
    assert await greenroom("twitch", "reward", "create", "--guild", "1", "--title", "x",
                           "--cost", "5") == 2  # fmt: skip
    assert "greenroom twitch login" in capsys.readouterr().err

    other = twitch.add_user("someone")
    mine = twitch.add_user("pixelmoth")
    twitch.device_user = other
    assert await greenroom("twitch", "login") == 0
    assert await greenroom("twitch", "reward", "create", "--guild", str(GUILD), "--title",
                           "A", "--cost", "5") == 0  # fmt: skip
    twitch.device_user = mine
    assert await greenroom("twitch", "login") == 0
    capsys.readouterr()
    # The server is linked to the other channel: refused before anything is made on Twitch.
    assert await greenroom("twitch", "reward", "create", "--guild", str(GUILD), "--title",
                           "B", "--cost", "5") == 2  # fmt: skip
    assert "linked to the Twitch channel someone" in capsys.readouterr().err
    assert len(twitch.rewards) == 1
    assert await greenroom("twitch", "reward", "create", "--guild", str(GUILD), "--title",
                           "B", "--cost", "0") == 2  # fmt: skip

    monkeypatch.delenv("GREENROOM_TWITCH_CLIENT_ID")
    assert await greenroom("twitch", "login") == 2
    assert "GREENROOM_TWITCH_CLIENT_ID is not set" in capsys.readouterr().err
