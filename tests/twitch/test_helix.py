"""The Helix client (twitchAPI's `Twitch` behind our retries) and the token file against the
loopback Twitch double: rewards, redemptions and their rules, refresh on 401 (stored through the
library's refresh callback), a 429 and 5xx the library mishandles, retried by us, the
device-code login (the library's CodeFlow), and no token in any log line (the library's loggers
included, at DEBUG) or error."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time

import pytest

from bot.twitch import TwitchAuthError, TwitchRequestError, TwitchUnavailable
from bot.twitch.helix import CANCELED, FULFILLED, UNFULFILLED, HelixClient
from bot.twitch.oauth import DeviceLogin
from bot.twitch.tokens import TokenStore, TwitchTokens
from ingest.connectors.base import Secret
from tests.twitch.conftest import CLIENT_ID, CLIENT_SECRET, make_helix, store_tokens

REDEMPTIONS = r"/helix/channel_points/custom_rewards/redemptions$"


def every_token(twitch) -> list[str]:
    return [*twitch.tokens, *twitch.refresh_tokens, CLIENT_SECRET]


def test_the_token_file_is_private_and_tokens_hide_in_reprs(tmp_path):
    store = TokenStore(tmp_path / "data" / "twitch_tokens.json")
    assert store.load() is None
    old_umask = os.umask(0o022)
    try:
        tokens = TwitchTokens(
            Secret("at-abcdef123456"), Secret("rt-abcdef123456"), "42", "pixelmoth", "cid",
            ("channel:manage:redemptions",), 1234.0,
        )  # fmt: skip
        store.save(tokens)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == tokens
    assert "abcdef123456" not in repr(tokens) and "abcdef123456" not in f"{tokens}"
    assert not list(store.path.parent.glob(".*.tmp"))  # the temporary file was renamed

    os.chmod(store.path, 0o644)  # someone loosened it: the next load makes it private again
    assert store.load() == tokens
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600

    store.path.write_text('{"access_token": "at-leaky-value"', encoding="utf-8")
    with pytest.raises(ValueError, match="not a Twitch token file") as caught:
        store.load()
    assert "leaky" not in str(caught.value)


async def test_reward_create_list_and_update_follow_twitchs_rules(linked):
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Frog cameo", 500, prompt="Your frog, our intro")
    assert (reward.title, reward.cost, reward.broadcaster_id) == ("Frog cameo", 500, me)
    stored = twitch.rewards[reward.id]
    assert stored["client_id"] == CLIENT_ID and stored["is_user_input_required"] is True
    assert stored["should_redemptions_skip_request_queue"] is False

    first = twitch.add_redemption(reward.id, "FrogFan", "my frog Gerald please")
    second = twitch.add_redemption(reward.id, "other", "a newt")
    found = await helix.redemptions(me, reward.id)
    assert [r.id for r in found] == [first["id"], second["id"]]
    assert found[0].user_input == "my frog Gerald please" and found[0].status == UNFULFILLED
    assert found[0].reward_title == "Frog cameo" and found[0].user_name == "FrogFan"

    done = await helix.update_redemption_status(me, reward.id, first["id"], CANCELED)
    assert done.status == CANCELED and twitch.redemptions[first["id"]]["status"] == CANCELED
    # Only UNFULFILLED redemptions change: a second update is refused and changes nothing.
    with pytest.raises(TwitchRequestError) as caught:
        await helix.update_redemption_status(me, reward.id, first["id"], FULFILLED)
    assert caught.value.status == 404
    assert twitch.redemptions[first["id"]]["status"] == CANCELED
    assert [r.id for r in await helix.redemptions(me, reward.id)] == [second["id"]]
    with pytest.raises(ValueError):
        await helix.update_redemption_status(me, reward.id, second["id"], UNFULFILLED)


async def test_redemptions_are_read_across_pages(linked):
    helix, me = linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    made = [linked.twitch.add_redemption(reward.id, f"fan{i}", f"cameo {i}") for i in range(53)]
    found = await helix.redemptions(me, reward.id)
    assert [r.id for r in found] == [r["id"] for r in made]
    assert len(linked.twitch.requests_to("GET", REDEMPTIONS)) == 2


async def test_only_the_app_that_created_a_reward_may_touch_its_redemptions(linked, tmp_path):
    twitch, me = linked.twitch, linked.broadcaster_id
    reward = await linked.helix.create_custom_reward(me, "Cameo", 10)
    redemption = twitch.add_redemption(reward.id, "fan", "hi")
    twitch.add_app("someone-elses-app", "their-secret")
    other = TokenStore(tmp_path / "other.json")
    other.save(TwitchTokens.from_json(twitch.issue_tokens(me, "someone-elses-app")))
    theirs = HelixClient(
        "someone-elses-app", Secret("their-secret"), other,
        api_url=twitch.api_url, auth_url=twitch.auth_url,
    )  # fmt: skip
    with pytest.raises(TwitchRequestError) as caught:
        await theirs.update_redemption_status(me, reward.id, redemption["id"], CANCELED)
    assert caught.value.status == 403  # refused, not retried
    (patch,) = twitch.requests_to("PATCH", REDEMPTIONS)
    assert patch.status == 403 and patch.client_id == "someone-elses-app"
    assert twitch.redemptions[redemption["id"]]["status"] == UNFULFILLED


async def test_an_expired_token_is_refreshed_once_and_stored(linked, caplog):
    caplog.set_level(logging.DEBUG)
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    before = linked.store.load()
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    twitch.expire_tokens()
    assert await helix.redemptions(me, reward.id) == []
    after = linked.store.load()  # the new pair is on disk: a restart needs no login
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert (after.user_id, after.login, after.scopes) == (before.user_id, before.login,
                                                          before.scopes)  # fmt: skip
    assert stat.S_IMODE(linked.store.path.stat().st_mode) == 0o600
    token_posts = twitch.requests_to("POST", r"/oauth2/token$")
    assert len(token_posts) == 1 and token_posts[0].body["grant_type"] == "refresh_token"
    assert [r.status for r in twitch.requests_to("GET", REDEMPTIONS)] == [401, 200]

    # A process started now uses the stored refreshed tokens without another refresh.
    restarted = make_helix(twitch, TokenStore(linked.store.path))
    assert len(await restarted.redemptions(me, reward.id)) == 0
    assert len(twitch.requests_to("POST", r"/oauth2/token$")) == 1
    # One started while the token had expired refreshes it as it logs in.
    twitch.expire_tokens()
    later = make_helix(twitch, TokenStore(linked.store.path))
    assert await later.redemptions(me, reward.id) == []
    assert len(twitch.requests_to("POST", r"/oauth2/token$")) == 2

    # The refresh token was revoked too: the error says to log in again, and shows no token.
    twitch.expire_tokens()
    twitch.revoke_refresh_tokens()
    with pytest.raises(TwitchAuthError, match="greenroom twitch login") as caught:
        await helix.redemptions(me, reward.id)
    # The library's client is dropped (its refresh state is stuck): a new login heals it.
    linked.store.save(TwitchTokens.from_json(twitch.issue_tokens(me, CLIENT_ID)))
    assert await helix.redemptions(me, reward.id) == []

    assert any(r.name.startswith("twitchAPI") for r in caplog.records)  # its loggers are seen
    text = " ".join(r.getMessage() for r in caplog.records) + str(caught.value)
    for token in [*every_token(twitch), before.access_token.reveal(), after.access_token.reveal()]:
        assert token not in text


async def test_concurrent_401s_refresh_once(linked):
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    twitch.expire_tokens()
    results = await asyncio.gather(*(helix.redemptions(me, reward.id) for _ in range(4)))
    assert results == [[]] * 4
    assert len(twitch.requests_to("POST", r"/oauth2/token$")) == 1


async def test_429_is_waited_out_by_the_library_and_retried_by_us(linked, caplog):
    """twitchAPI sleeps until Ratelimit-Reset, then reads the 429 body as data (a KeyError):
    we retry. A reset too far away is cut short by the attempt's timeout, then retried."""
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    twitch.add_redemption(reward.id, "fan", "hi")
    redemption = twitch.add_redemption(reward.id, "fan2", "hello")
    limited = {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "0"}
    body = {"error": "Too Many Requests", "status": 429, "message": "slow down"}
    twitch.fail_next("PATCH", REDEMPTIONS, 429, body=body,
                     headers=limited | {"Ratelimit-Reset": str(int(time.time()))})  # fmt: skip
    done = await helix.update_redemption_status(me, reward.id, redemption["id"], CANCELED)
    assert done.status == CANCELED and linked.sleeps == [0.5]
    assert [r.status for r in twitch.requests_to("PATCH", REDEMPTIONS)] == [429, 200]
    assert "reached rate limit" in caplog.text  # the library did wait

    patient = make_helix(twitch, linked.store, linked.sleeps, call_timeout=0.3)
    twitch.fail_next("GET", REDEMPTIONS, 429, body=body,
                     headers=limited | {"Ratelimit-Reset": str(int(time.time()) + 60)})  # fmt: skip
    found = await patient.redemptions(me, reward.id)
    assert len(found) == 1 and linked.sleeps == [0.5, 0.5]
    assert [r.status for r in twitch.requests_to("GET", REDEMPTIONS)] == [429, 200]


async def test_5xx_is_retried_with_backoff_then_gives_up(linked):
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    redemption = twitch.add_redemption(reward.id, "fan", "hi")
    # A 502 body read as data (KeyError), retried by us; a 503 retried once by the library.
    twitch.fail_next("PATCH", REDEMPTIONS, 502, times=1)
    twitch.fail_next("PATCH", REDEMPTIONS, 503, times=1)
    done = await helix.update_redemption_status(me, reward.id, redemption["id"], CANCELED)
    assert done.status == CANCELED
    assert linked.sleeps == [0.5]
    assert [r.status for r in twitch.requests_to("PATCH", REDEMPTIONS)] == [502, 503, 200]

    other = twitch.add_redemption(reward.id, "fan2", "hello")
    twitch.fail_next("PATCH", REDEMPTIONS, 500, times=10)  # the library does not retry a 500
    with pytest.raises(TwitchUnavailable, match="after retries"):
        await helix.update_redemption_status(me, reward.id, other["id"], CANCELED)
    assert twitch.redemptions[other["id"]]["status"] == UNFULFILLED
    assert len(twitch.requests_to("PATCH", REDEMPTIONS)) == 3 + 4  # 1 try + 3 retries
    assert linked.sleeps == [0.5, 0.5, 1.0, 2.0]


async def test_a_listing_cut_short_by_an_error_page_reads_short(linked):
    """The library reads a 502 page as an empty last page (no error): the cog's catch-up runs
    again each maintenance round, and the next listing is whole."""
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    twitch.add_redemption(reward.id, "fan", "hi")
    twitch.fail_next("GET", REDEMPTIONS, 502)
    assert await helix.redemptions(me, reward.id) == []
    assert len(await helix.redemptions(me, reward.id)) == 1


async def test_a_network_failure_is_unavailable_not_a_crash(tmp_path, twitch):
    user = twitch.add_user("pixelmoth")
    store = store_tokens(twitch, tmp_path / "t.json", user)
    sleeps: list[float] = []
    helix = make_helix(twitch, store, sleeps)
    helix.api_url = "http://127.0.0.1:9/helix/"  # nothing listens on the discard port
    with pytest.raises(TwitchUnavailable, match="network"):
        await helix.redemptions(user, "rew-x")
    assert sleeps == [0.5, 1.0, 2.0]


async def test_device_login_prints_a_code_and_stores_nothing_until_approved(twitch, caplog):
    caplog.set_level(logging.DEBUG)
    user = twitch.add_user("PixelMoth")
    twitch.device_user = user
    twitch.device_pending_polls = 1  # twitchAPI's CodeFlow polls once a second
    login = DeviceLogin(CLIENT_ID, Secret(CLIENT_SECRET), auth_url=twitch.auth_url)
    user_code, url = await login.start()
    assert user_code in url
    tokens = await login.finish()
    assert tokens.user_id == user and tokens.login == "PixelMoth"
    assert tokens.client_id == CLIENT_ID
    assert set(tokens.scopes) == {"channel:read:redemptions", "channel:manage:redemptions"}
    polls = twitch.requests_to("POST", r"/oauth2/token$")
    assert [p.status for p in polls] == [400, 200]
    device_codes = [p.body["device_code"] for p in polls]
    text = " ".join(r.getMessage() for r in caplog.records)
    for token in [*every_token(twitch), *device_codes]:
        assert token not in text

    refused = DeviceLogin("not-an-app", None, auth_url=twitch.auth_url)
    with pytest.raises(TwitchAuthError, match="GREENROOM_TWITCH_CLIENT_ID"):
        await refused.start()
