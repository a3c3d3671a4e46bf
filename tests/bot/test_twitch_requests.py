"""Twitch cameo requests over the wire: the real bot against the Discord double and the Twitch
double. Redemption -> card -> accept -> fulfilled; reject with a reason -> refunded; two mods
at once; a card from before a restart; redemptions missed while the bot was down; a failing
Twitch update kept pending and retried; expiry; an @everyone that pings no one; no token in
any log line."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import pytest_asyncio
from pydantic import SecretStr

from bot.twitch.helix import HelixClient
from bot.twitch.requests import RequestStore
from bot.twitch.tokens import TokenStore, TwitchTokens
from tests.bot.conftest import greenroom
from tests.twitch.conftest import CLIENT_ID, CLIENT_SECRET, make_helix
from tests.twitch.double import TwitchDouble

pytestmark = pytest.mark.asyncio
REDEMPTIONS = r"/helix/channel_points/custom_rewards/redemptions$"


@pytest_asyncio.fixture
async def twitch():
    async with TwitchDouble() as double:
        double.add_app(CLIENT_ID, CLIENT_SECRET)
        yield double


@pytest_asyncio.fixture
async def linked_world(world, services, twitch):
    """The guild linked to a broadcaster with one reward, cards going to #cameo-requests."""
    services.settings = services.settings.model_copy(
        update={
            "twitch_client_id": CLIENT_ID,
            "twitch_client_secret": SecretStr(CLIENT_SECRET),
            "twitch_auth_url": twitch.auth_url,
            "twitch_api_url": twitch.api_url,
            "twitch_eventsub_url": twitch.eventsub_url,
            "twitch_retry_seconds": 3600.0,  # the tests run maintenance themselves
        }
    )
    broadcaster = twitch.add_user("PixelMoth")
    tokens = TokenStore(services.settings.twitch_tokens_path)
    tokens.save(TwitchTokens.from_json(twitch.issue_tokens(broadcaster, CLIENT_ID)))
    helix: HelixClient = make_helix(twitch, tokens)
    reward = await helix.create_custom_reward(broadcaster, "Frog cameo", 500)
    store = await RequestStore.open(services.db)
    await store.add_reward(world.guild.id, reward, "pixelmoth")
    world.requests = world.guild.add_text_channel("cameo-requests")
    world.reward = reward
    world.twitch = twitch
    return world


async def connected(bot, twitch: TwitchDouble):
    """The bot's cog once its EventSub session is subscribed."""
    await twitch.wait_for(
        lambda: (
            any(s["status"] == "enabled" for s in twitch.subscriptions.values())
            and bot.get_cog("TwitchCog").eventsub is not None
            and bot.get_cog("TwitchCog").eventsub.connected.is_set()
        ),
        what="the bot's EventSub subscription",
    )
    cog = bot.get_cog("TwitchCog")
    cog.helix.retry_delays = (0.01, 0.01, 0.01)
    return cog


async def card_stored(store, request_id: int, timeout: float = 5.0) -> None:
    """Wait until the request's card id is stored (the bot posted and recorded its card)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await store.get(request_id)).card_message_id is None:
        assert asyncio.get_running_loop().time() < deadline, "the card id was never stored"
        await asyncio.sleep(0.01)


def is_card(n: int):
    return lambda m: bool(m.embeds) and m.embed["title"].startswith(f"Cameo request #{n}:")


def cards_in(w) -> list:
    """The request cards in the requests channel (not the ephemeral replies there)."""
    return [
        m
        for m in w.double.messages(w.requests)
        if m.embeds and m.embed.get("title", "").startswith("Cameo request #")
    ]


async def click(world, member, card, custom_id):
    return await world.double.click(world.guild, world.requests, member, card, custom_id)


async def test_setup_redemption_card_accept_fulfil_and_reject_refunds(
    linked_world, services, caplog
):
    caplog.set_level(logging.DEBUG)
    w, twitch = linked_world, linked_world.twitch
    async with greenroom(w, services) as bot:
        setup = await w.double.slash_command(
            w.guild, w.general, w.admin, "greenroom setup twitch-requests",
            {"channel": w.requests},
        )  # fmt: skip
        assert "posted in" in (await setup.wait_message()).content
        cog = await connected(bot, twitch)

        first = twitch.add_redemption(
            w.reward.id, "FrogFan", "@everyone put my **frog** <@&123> in the intro " + "x" * 900
        )
        card = await w.double.wait_for_message(w.requests, is_card(1), timeout=5)
        assert card.embed["title"] == "Cameo request #1: Frog cameo"
        assert "FrogFan on Twitch" in card.text and "🟣 New request" in card.text
        description = card.embed["description"]
        assert "@\u200beveryone" in description and "@everyone" not in description
        assert "\\*\\*frog\\*\\*" in description and "<@&123>" not in description
        assert len(description) < 700  # capped
        assert card.allowed_mentions == {"parse": []}
        assert card.custom_ids == ["twreq:accept:1", "twreq:reject:1", "twreq:hold:1"]

        refused = await click(w, w.fan, card, "twreq:accept:1")
        assert "Only moderators" in (await refused.wait_message()).content
        assert refused.ephemeral and refused.modal is None

        accepted = await click(w, w.mod, card, "twreq:accept:1")
        assert "in the cameo queue" in (await accepted.wait_message(timeout=5)).content
        await w.double.wait_until(lambda: "🎬 Accepted" in card.text, what="accepted card")
        assert card.custom_ids == ["twreq:fulfil:1", "twreq:reject:1"]
        assert f"<@{w.mod.id}>" in card.text
        assert first["status"] == "UNFULFILLED"

        done = await click(w, w.mod, card, "twreq:fulfil:1")
        assert "fulfilled" in (await done.wait_message(timeout=5)).content
        await w.double.wait_until(lambda: "✅ Fulfilled" in card.text, what="fulfilled card")
        assert first["status"] == "FULFILLED" and card.custom_ids == []
        assert "Marked fulfilled on Twitch" in card.text

        # Reject: each opening of the modal has its own id; two mods submit, one counts.
        second = twitch.add_redemption(w.reward.id, "NewtFan", "my newt")
        card2 = await w.double.wait_for_message(w.requests, is_card(2), timeout=5)
        assert card2.custom_ids == ["twreq:accept:2", "twreq:reject:2", "twreq:hold:2"]
        mod2 = w.guild.add_member("mod2", roles=[w.mods])
        await w.double.announce(mod2)
        modal_a = await (await click(w, w.mod, card2, "twreq:reject:2")).wait_modal()
        modal_b = await (await click(w, mod2, card2, "twreq:reject:2")).wait_modal()
        assert modal_a["custom_id"] != modal_b["custom_id"]
        assert modal_a["custom_id"].startswith("twreq:modal:reject:2:")
        with pytest.raises(ValueError, match="required"):
            await w.double.submit_modal(w.guild, w.requests, w.mod, modal_a["custom_id"], {})
        sent_a = await w.double.submit_modal(
            w.guild, w.requests, w.mod, modal_a["custom_id"], {"reason": "Newts are off-brand"}
        )
        reply_a = await sent_a.wait_message(timeout=5)
        assert "Rejected request #2." in reply_a.content and "refunded" in reply_a.content
        sent_b = await w.double.submit_modal(
            w.guild, w.requests, mod2, modal_b["custom_id"], {"reason": "me too"}
        )
        reply_b = await sent_b.wait_message(timeout=5)
        assert "already rejected" in reply_b.content and f"<@{w.mod.id}>" in reply_b.content
        assert second["status"] == "CANCELED"
        patches = twitch.requests_to("PATCH", REDEMPTIONS)
        assert [p.body["status"] for p in patches] == ["FULFILLED", "CANCELED"]
        await w.double.wait_until(lambda: "❌ Rejected" in card2.text, what="rejected card")
        assert "Newts are off-brand" in card2.text and "points were refunded" in card2.text
        assert card2.custom_ids == []
        audit = await cog.store.audit(2)
        assert [(e.action, e.actor_id) for e in audit] == [
            ("redeemed", 0), ("reject", w.mod.id), ("twitch", 0),
        ]  # fmt: skip

    # twitchAPI's own loggers (Helix, EventSub) logged at DEBUG too, and none shows a token.
    assert {"twitchAPI.twitch", "twitchAPI.eventsub.websocket"} <= {r.name for r in caplog.records}
    logged = " ".join(r.getMessage() for r in caplog.records)
    logged += " ".join(str(m.request) for m in w.double.messages(w.requests))
    for secret in [*twitch.tokens, *twitch.refresh_tokens, CLIENT_SECRET]:
        assert secret not in logged


async def test_restart_catch_up_pending_retry_and_expiry(linked_world, services):
    w, twitch = linked_world, linked_world.twitch
    await services.guild_configs.update(w.guild.id, twitch_requests_channel=w.requests.id)
    async with greenroom(w, services) as bot:
        await connected(bot, twitch)
        twitch.add_redemption(w.reward.id, "early", "before the restart")
        card1 = await w.double.wait_for_message(w.requests, is_card(1), timeout=5)
        store = bot.get_cog("TwitchCog").store
        await card_stored(store, 1)

    # While the bot is down two viewers redeem; nobody is connected to hear it.
    missed = [twitch.add_redemption(w.reward.id, f"late{i}", f"while away {i}") for i in (1, 2)]
    assert all(twitch.notify(m) == 0 for m in missed)

    async with greenroom(w, services) as bot:
        cog = await connected(bot, twitch)
        await w.double.wait_until(
            lambda: len(cards_in(w)) == 3, timeout=5, what="two caught-up cards"
        )
        cards = cards_in(w)
        assert ["while away 1" in cards[1].text, "while away 2" in cards[2].text] == [True, True]

        # The card posted before the restart still works.
        accepted = await click(w, w.mod, card1, "twreq:accept:1")
        assert "cameo queue" in (await accepted.wait_message(timeout=5)).content
        await w.double.wait_until(lambda: "🎬 Accepted" in card1.text, what="old card works")

        # Twitch fails the refund: the card shows it pending, the retry completes it.
        twitch.fail_next("PATCH", REDEMPTIONS, 502, times=4)  # 1 try + 3 retries
        modal = await (await click(w, w.mod, cards[1], "twreq:reject:2")).wait_modal()
        sent = await w.double.submit_modal(
            w.guild, w.requests, w.mod, modal["custom_id"], {"reason": "not today"}
        )
        assert "keep trying" in (await sent.wait_message(timeout=5)).content
        await w.double.wait_until(lambda: "⏳ Twitch refund pending" in cards[1].text)
        assert missed[0]["status"] == "UNFULFILLED"
        await cog.maintain()
        assert missed[0]["status"] == "CANCELED"
        await w.double.wait_until(lambda: "points were refunded" in cards[1].text)

        # Nobody decided request #3 in time: it expires, refunded, its card says so.
        await cog.maintain(now=time.time() + 49 * 3600)
        assert missed[1]["status"] == "CANCELED"
        await w.double.wait_until(lambda: "⌛ Expired" in cards[2].text, what="expired card")
        assert cards[2].custom_ids == [] and "expired" in cards[2].text
        # The accepted request waits for its clip: it does not expire.
        assert "🎬 Accepted" in card1.text

    # Each redemption got exactly one card, across both runs.
    assert len(cards_in(w)) == 3


async def test_reconnect_keeps_every_card_once_and_a_revocation_is_shown(
    linked_world, services, tmp_path, monkeypatch, capsys
):
    """A redemption sent during a session_reconnect (on the old connection, and again on the
    new one) gets one card; the token refreshed meanwhile is stored; a revocation is posted for
    the mods and shown by `greenroom twitch status`."""
    w, twitch = linked_world, linked_world.twitch
    await services.guild_configs.update(w.guild.id, twitch_requests_channel=w.requests.id)
    async with greenroom(w, services) as bot:
        cog = await connected(bot, twitch)
        (old,) = twitch.live_sessions()
        (sub,) = twitch.subscriptions.values()
        twitch.expire_tokens()  # the library refreshes it on its next call, and we store it
        await twitch.send_reconnect(old)
        during = twitch.add_redemption(w.reward.id, "MidFan", "during the move", notify=False)
        message = twitch.notification_for(sub, during)
        twitch.send(old, message)
        new = await twitch.wait_for(
            lambda: next((s for s in twitch.live_sessions() if s.url_kind == "reconnect"), None),
            what="the bot on the reconnect URL",
        )
        twitch.send(new, message)
        await twitch.wait_for(lambda: old.closed, what="the old connection closed")
        twitch.add_redemption(w.reward.id, "LateFan", "after the move")
        await w.double.wait_for_message(w.requests, is_card(2), timeout=5)
        await cog.maintain()  # a catch-up: both are known already
        assert [c.embed["title"] for c in cards_in(w)] == [
            "Cameo request #1: Frog cameo", "Cameo request #2: Frog cameo",
        ]  # fmt: skip
        assert "during the move" in cards_in(w)[0].text
        assert cog.eventsub.sessions_opened == 1

        twitch.revoke(sub["id"], "authorization_revoked")
        notice = await w.double.wait_for_message(
            w.requests, lambda m: "stopped sending redemptions" in m.content, timeout=5
        )
        assert "authorization_revoked" in notice.content and "greenroom twitch login" in (
            notice.content
        )
        assert [r.status for r in cog.revoked] == ["authorization_revoked"]

    stored = TokenStore(services.settings.twitch_tokens_path).load()
    assert stored.access_token.reveal() in twitch.tokens  # the refreshed pair, not the old
    assert not twitch.tokens[stored.access_token.reveal()].expired
    settings = services.settings
    for name, value in {
        "GREENROOM_TWITCH_CLIENT_ID": CLIENT_ID,
        "GREENROOM_TWITCH_CLIENT_SECRET": CLIENT_SECRET,
        "GREENROOM_TWITCH_AUTH_URL": twitch.auth_url,
        "GREENROOM_TWITCH_API_URL": twitch.api_url,
        "GREENROOM_DATA_DIR": str(settings.data_dir),
    }.items():
        monkeypatch.setenv(name, value)
    from bot.cli import main

    capsys.readouterr()
    assert await asyncio.to_thread(main, ["twitch", "status"]) == 0
    out = capsys.readouterr().out
    assert "EventSub: REVOKED by Twitch (authorization_revoked)" in out
