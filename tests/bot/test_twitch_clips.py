"""A Twitch cameo request fulfilled by a clip, over the wire (the Discord double and the Twitch
double): redemption -> card -> accept -> `/clip submit ... request:` -> approved in the green
room -> FULFILLED on Twitch and on the card; a rejected clip puts its request back in the cameo
queue; `/review requests` lists the requests for mods; the autocomplete offers only this
server's accepted requests that wait for a clip."""

from __future__ import annotations

import pytest

from bot.twitch.helix import CustomReward, Redemption
from tests.bot.clip_fixtures import *  # noqa: F403
from tests.bot.clip_fixtures import approve, command, decide, submit, upload
from tests.bot.conftest import greenroom
from tests.bot.test_twitch_requests import (  # noqa: F401 - fixtures
    REDEMPTIONS,
    click,
    connected,
    is_card,
    linked_world,
    twitch,
)

pytestmark = pytest.mark.asyncio


async def choices(cw, member, value: str = "") -> list[int]:
    found = await cw.double.autocomplete(
        cw.guild, cw.general, member, "clip submit", "request", value
    )
    return [c["value"] for c in found]


async def test_clip_approved_fulfils_and_clip_rejected_requeues(
    linked_world,  # noqa: F811 - the fixture
    clip_world,
    clip_services,
    media,
):
    w, cw, services, double = linked_world, clip_world, clip_services, linked_world.twitch
    await services.guild_configs.update(w.guild.id, twitch_requests_channel=w.requests.id)
    async with greenroom(w, services) as bot:
        cog = await connected(bot, double)
        store = cog.store
        # Another server's accepted request: never offered here.
        other = CustomReward("other-reward", "555", "Other cameo", 100, "")
        await store.add_reward(w.guild.id + 1, other, "someoneelse")
        elsewhere, _ = await store.record(
            Redemption("red-x", "555", "other-reward", "", "1", "x", "x", "far away",
                       "UNFULFILLED", "2026-01-01T00:00:00Z")
        )  # fmt: skip
        await store.decide(elsewhere.id, w.guild.id + 1, "accept", 42)

        first = double.add_redemption(w.reward.id, "FrogFan", "put my frog in the intro")
        card1 = await w.double.wait_for_message(w.requests, is_card(2), timeout=5)
        second = double.add_redemption(w.reward.id, "NewtFan", "my newt, @everyone")
        card2 = await w.double.wait_for_message(w.requests, is_card(3), timeout=5)
        assert await choices(cw, cw.creator) == []  # nothing accepted yet here
        for card, n in ((card1, 2), (card2, 3)):
            accepted = await click(w, w.mod, card, f"twreq:accept:{n}")
            assert "cameo queue" in (await accepted.wait_message(timeout=5)).content
        assert await choices(cw, cw.creator) == [2, 3]
        assert await choices(cw, cw.creator, "frog") == [2]

        # Submitted for request #2; it is then no longer offered.
        _, reply = await submit(cw, cw.creator, media.comet, request=2)
        assert "Linked to cameo request #2" in reply.content
        await w.double.wait_until(lambda: "Clip #1 is in the green room" in card1.text)
        assert await choices(cw, cw.creator) == [3]
        _, reply = await submit(cw, cw.creator, media.bands, title="Again", request=2)
        assert "already has clip #1" in reply.content and "Nothing was sent" in reply.content

        # Approved while Twitch fails: fulfilled here, pending there, retried by maintenance.
        review_card = await w.double.wait_for_message(cw.review, timeout=5)
        double.fail_next("PATCH", REDEMPTIONS, 502, times=4)  # 1 try + 3 retries
        _, reply = await approve(cw, cw.mod, review_card, 1)
        assert "Approved clip #1." in reply.content
        assert "Cameo request #2 is fulfilled; Twitch did not take it yet" in reply.content
        await w.double.wait_until(lambda: "⏳ Twitch fulfilment pending" in card1.text)
        assert first["status"] == "UNFULFILLED"
        await cog.maintain()
        assert first["status"] == "FULFILLED"
        await w.double.wait_until(lambda: "✅ Fulfilled" in card1.text, what="fulfilled card")
        assert "Clip #1 was approved" in card1.text and "Marked fulfilled on Twitch" in card1.text
        assert card1.custom_ids == []

        # Submitted for request #3, then rejected: the request is back in the cameo queue.
        _, reply = await submit(cw, cw.creator, media.bands, title="Newt", request=3)
        assert "Linked to cameo request #3" in reply.content
        await w.double.wait_until(lambda: "Clip #2 is in the green room" in card2.text)
        review_card2 = await w.double.wait_for_message(
            cw.review, lambda m: "review:approve:2" in m.custom_ids, timeout=5
        )
        _, reply = await decide(cw, cw.mod, review_card2, "reject", 2, "Wrong newt")
        assert "Cameo request #3 is back in the cameo queue." in reply.content
        await w.double.wait_until(lambda: "Clip #2" not in card2.text, what="requeued card")
        assert "🎬 Accepted" in card2.text and "Wrong newt" in card2.text
        assert card2.custom_ids == ["twreq:fulfil:3", "twreq:reject:3"]
        assert second["status"] == "UNFULFILLED"
        assert (await store.get(3)).clip_id is None
        assert await choices(cw, cw.creator) == [3]

        # /review requests: mods only; Twitch text made inert.
        _, reply = await command(cw, cw.fan, "review requests", check_permissions=False)
        assert "Only moderators" in reply.content
        inter, reply = await command(cw, cw.mod, "review requests")
        text = reply.embeds[0]["description"]
        assert "#3" in text and "#2" not in text and "far away" not in text  # fulfilled, other
        assert "@\u200beveryone" in text and "@everyone" not in text
        assert inter.ephemeral

        assert [(e.action, e.actor_id) for e in await store.audit(2)] == [
            ("redeemed", 0), ("accept", w.mod.id), ("link_clip", cw.creator.id),
            ("fulfil", w.mod.id), ("twitch", 0),
        ]  # fmt: skip
        assert [(e.action, e.actor_id) for e in await store.audit(3)] == [
            ("redeemed", 0), ("accept", w.mod.id), ("link_clip", cw.creator.id),
            ("requeue", w.mod.id),
        ]  # fmt: skip

        # A link whose clip was decided while settling could not run: maintenance settles it.
        await store.link_clip(3, w.guild.id, 2, cw.creator.id)
        await cog.maintain()
        assert (await store.get(3)).clip_id is None
        assert (await store.audit(3))[-1].action == "requeue"

        # The rejected clip comes back as a new version: linked to the request again, and its
        # approval fulfils the redemption.
        inter = await cw.double.slash_command(
            cw.guild, cw.general, cw.creator, "clip resubmit",
            {"clip": 2, "file": upload(media.comet)},
        )  # fmt: skip
        reply = await inter.wait_message(timeout=10)
        assert "Still linked to cameo request #3" in reply.content
        assert (await store.get(3)).clip_id == 3
        assert await choices(cw, cw.creator) == []
        await w.double.wait_until(lambda: "Clip #3 is in the green room" in card2.text)
        review_card3 = await w.double.wait_for_message(
            cw.review, lambda m: "review:approve:3" in m.custom_ids, timeout=5
        )
        _, reply = await approve(cw, cw.mod, review_card3, 3)
        assert "Cameo request #3 is fulfilled on Twitch." in reply.content
        assert second["status"] == "FULFILLED"
        await w.double.wait_until(lambda: "✅ Fulfilled" in card2.text, what="fulfilled card")
        assert [e.action for e in await store.audit(3)][-4:] == [
            "requeue", "link_clip", "fulfil", "twitch",
        ]  # fmt: skip


async def test_review_requests_pages_and_escapes(linked_world, services):  # noqa: F811
    w = linked_world
    async with greenroom(w, services) as bot:
        store = bot.get_cog("TwitchCog").store
        for n in range(12):
            await store.record(
                Redemption(f"red-p{n}", w.reward.broadcaster_id, w.reward.id, "Frog cameo",
                           "1", "v", f"**Viewer{n}**", f"<@&1> text {n}", "UNFULFILLED", "")
            )  # fmt: skip
        inter = await w.double.slash_command(w.guild, w.general, w.mod, "review requests")
        page = await inter.wait_message(timeout=5)
        text = page.embeds[0]["description"]
        assert text.count("\n") == 9 and "text 0" in text and "text 10" not in text
        assert "\\*\\*Viewer0\\*\\*" in text and "<@&1>" not in text
        assert page.embeds[0]["footer"]["text"] == "1-10 of 12"
        assert page.custom_ids == ["twreq:page:prev:0", "twreq:page:next:10"]
        nxt = await w.double.click(w.guild, w.general, w.mod, page, "twreq:page:next:10")
        await nxt.wait_response(timeout=5)
        await w.double.wait_until(lambda: "text 11" in page.embeds[0]["description"])
        assert page.embeds[0]["footer"]["text"] == "11-12 of 12"
