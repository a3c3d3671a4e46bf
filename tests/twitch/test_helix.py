"""The Helix client and the token file against the loopback Twitch double: rewards,
redemptions and their rules, refresh on 401, waiting on 429, retrying 5xx, and no token in any
log line or error."""

from __future__ import annotations

import logging
import os
import stat
import time

import httpx
import pytest

from bot.twitch import TwitchAuthError, TwitchRequestError, TwitchUnavailable
from bot.twitch.helix import CANCELED, FULFILLED, UNFULFILLED
from bot.twitch.oauth import TwitchOAuth
from bot.twitch.tokens import TokenStore, TwitchTokens
from ingest.connectors.base import Secret
from tests.twitch.conftest import CLIENT_ID, CLIENT_SECRET, make_helix

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
    async with httpx.AsyncClient() as http:
        oauth = TwitchOAuth(http, "someone-elses-app", Secret("their-secret"),
                            auth_url=twitch.auth_url)  # fmt: skip
        from bot.twitch.helix import HelixClient

        theirs = HelixClient(http, oauth, other, api_url=twitch.api_url)
        with pytest.raises(TwitchRequestError) as caught:
            await theirs.update_redemption_status(me, reward.id, redemption["id"], CANCELED)
    assert caught.value.status == 403 and "client ID" in caught.value.message
    assert twitch.redemptions[redemption["id"]]["status"] == UNFULFILLED


async def test_an_expired_token_is_refreshed_once_and_stored(linked, caplog):
    caplog.set_level(logging.DEBUG)
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    before = linked.store.load()
    twitch.expire_tokens()
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    assert reward.id in twitch.rewards
    after = linked.store.load()  # the new pair is on disk: a restart needs no login
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert stat.S_IMODE(linked.store.path.stat().st_mode) == 0o600
    token_posts = twitch.requests_to("POST", r"/oauth2/token$")
    assert len(token_posts) == 1 and token_posts[0].body["grant_type"] == "refresh_token"
    statuses = [r.status for r in twitch.requests_to("POST", r"custom_rewards$")]
    assert statuses == [401, 200]

    # A process started now uses the stored refreshed tokens without another refresh.
    async with httpx.AsyncClient() as http:
        restarted = make_helix(twitch, http, TokenStore(linked.store.path))
        assert len(await restarted.redemptions(me, reward.id)) == 0
    assert len(twitch.requests_to("POST", r"/oauth2/token$")) == 1

    # The refresh token was revoked too: the error says to log in again, and shows no token.
    twitch.expire_tokens()
    twitch.revoke_refresh_tokens()
    with pytest.raises(TwitchAuthError, match="greenroom twitch login") as caught:
        await helix.redemptions(me, reward.id)
    text = " ".join(r.getMessage() for r in caplog.records) + str(caught.value)
    for token in [*every_token(twitch), before.access_token.reveal(), after.access_token.reveal()]:
        assert token not in text


async def test_concurrent_401s_refresh_once(linked):
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    twitch.expire_tokens()
    import asyncio

    results = await asyncio.gather(*(helix.redemptions(me, reward.id) for _ in range(4)))
    assert results == [[]] * 4
    assert len(twitch.requests_to("POST", r"/oauth2/token$")) == 1


async def test_429_waits_until_the_reset_then_retries(linked):
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    twitch.add_redemption(reward.id, "fan", "hi")
    reset = int(time.time()) + 7
    twitch.fail_next(
        "GET", REDEMPTIONS, 429,
        headers={"Ratelimit-Limit": "800", "Ratelimit-Remaining": "0",
                 "Ratelimit-Reset": str(reset)},
        body={"error": "Too Many Requests", "status": 429, "message": "slow down"},
    )  # fmt: skip
    found = await helix.redemptions(me, reward.id)
    assert len(found) == 1
    assert len(linked.sleeps) == 1 and 5.0 < linked.sleeps[0] <= 7.0
    assert [r.status for r in twitch.requests_to("GET", REDEMPTIONS)] == [429, 200]


async def test_5xx_is_retried_with_backoff_then_gives_up(linked):
    twitch, helix, me = linked.twitch, linked.helix, linked.broadcaster_id
    reward = await helix.create_custom_reward(me, "Cameo", 10)
    redemption = twitch.add_redemption(reward.id, "fan", "hi")
    twitch.fail_next("PATCH", REDEMPTIONS, 502, times=1)
    twitch.fail_next("PATCH", REDEMPTIONS, 503, times=1)
    done = await helix.update_redemption_status(me, reward.id, redemption["id"], CANCELED)
    assert done.status == CANCELED
    assert linked.sleeps == [0.5, 1.0]
    assert [r.status for r in twitch.requests_to("PATCH", REDEMPTIONS)] == [502, 503, 200]

    other = twitch.add_redemption(reward.id, "fan2", "hello")
    twitch.fail_next("PATCH", REDEMPTIONS, 500, times=10)
    with pytest.raises(TwitchUnavailable, match="after retries"):
        await helix.update_redemption_status(me, reward.id, other["id"], CANCELED)
    assert twitch.redemptions[other["id"]]["status"] == UNFULFILLED
    assert len(twitch.requests_to("PATCH", REDEMPTIONS)) == 3 + 4  # 1 try + 3 retries


async def test_a_network_failure_is_unavailable_not_a_crash(tmp_path, twitch):
    from tests.twitch.conftest import store_tokens

    user = twitch.add_user("pixelmoth")
    store = store_tokens(twitch, tmp_path / "t.json", user)
    async with httpx.AsyncClient(timeout=1) as http:
        helix = make_helix(twitch, http, store, [])
        helix.api_url = "http://127.0.0.1:9/helix"  # nothing listens on the discard port
        with pytest.raises(TwitchUnavailable, match="network"):
            await helix.redemptions(user, "rew-x")


async def test_device_login_prints_a_code_and_stores_nothing_until_approved(twitch, caplog):
    caplog.set_level(logging.DEBUG)
    user = twitch.add_user("PixelMoth")
    twitch.device_user = user
    twitch.device_pending_polls = 2
    async with httpx.AsyncClient() as http:
        oauth = TwitchOAuth(http, CLIENT_ID, Secret(CLIENT_SECRET), auth_url=twitch.auth_url)
        code = await oauth.start_device_login()
        assert code.user_code in code.verification_uri
        tokens = await oauth.finish_device_login(code)
    assert tokens.user_id == user and tokens.login == "PixelMoth"
    assert tokens.client_id == CLIENT_ID
    assert set(tokens.scopes) == {"channel:read:redemptions", "channel:manage:redemptions"}
    polls = twitch.requests_to("POST", r"/oauth2/token$")
    assert [p.status for p in polls] == [400, 400, 200]
    text = " ".join(r.getMessage() for r in caplog.records)
    for token in [*every_token(twitch), code.device_code.reveal()]:
        assert token not in text
