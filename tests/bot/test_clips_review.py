"""Reviewing clips over the wire: reasons, races, quorum, veto, versions, restarts, the DM
fallback, and the queue, audit and stats commands."""

from __future__ import annotations

import asyncio

import pytest

from bot.clips import ClipDraft, ClipStatus
from tests.bot.clip_fixtures import *  # noqa: F403
from tests.bot.clip_fixtures import (
    approve,
    command,
    decide,
    open_modal,
    refused,
    submit,
    submit_modal,
)
from tests.bot.conftest import greenroom

pytestmark = pytest.mark.asyncio
S = ClipStatus


async def test_reasons_are_required_and_a_failing_checklist_blocks_approval(
    clip_world, clip_services, media
):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        for action in ("reject", "changes", "hold"):
            modal = await open_modal(cw, cw.mod, card, action, 1)
            with pytest.raises(ValueError, match="required"):  # Discord itself refuses empty
                await cw.double.submit_modal(cw.guild, cw.review, cw.mod, modal["custom_id"], {})
            done, reply = await submit_modal(cw, cw.mod, modal, {"reason": "   "})
            assert done.ephemeral and "needs a reason" in reply.content

        modal = await open_modal(cw, cw.mod, card, "approve", 1)
        _, reply = await submit_modal(
            cw, cw.mod, modal, {"passed": ["quality"], "failed": ["copyright"]}
        )
        assert "You marked copyright as failing; reject the clip" in reply.content
        assert (await services.clips.get(1, cw.guild.id)).status == S.SUBMITTED

        _, reply = await decide(cw, cw.mod, card, "hold", 1, "Waiting for the sponsor's OK")
        assert "Put clip #1 on hold." in reply.content
        assert "⏸️ On hold" in card.text and "Waiting for the sponsor's OK" in card.text
        assert card.custom_ids == ["review:reopen:1", "review:veto:1"]
        _, reply = await command(cw, cw.mod, "review reopen", {"clip": 1, "reason": "  "})
        assert "Reopening a clip needs a reason" in reply.content
        _, reply = await command(cw, cw.mod, "review reopen", {"clip": 1, "reason": "Sponsor OK"})
        assert "Reopened clip #1 for review." in reply.content
        assert "Reopened by" in card.text and "review:approve:1" in card.custom_ids
        dms = [m.content for m in cw.double.messages(cw.creator)]
        assert any("on hold" in t and "Waiting for the sponsor's OK" in t for t in dms)
        assert any("reopened" in t and "Sponsor OK" in t for t in dms)
    reasons = [e.reason for e in await services.clips.history(1, cw.guild.id)]
    assert reasons == ["", "Waiting for the sponsor's OK", "Sponsor OK"]


async def test_two_mods_at_once_make_one_decision(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        _, stale = await command(cw, cw.mod3, "review show", {"clip": 1})  # buttons, privately
        approve_modal = await open_modal(cw, cw.mod, card, "approve", 1)
        reject_modal = await open_modal(cw, cw.mod2, card, "reject", 1)
        first, second = await asyncio.gather(
            cw.double.submit_modal(
                cw.guild, cw.review, cw.mod, approve_modal["custom_id"], {"passed": ["quality"]}
            ),
            cw.double.submit_modal(
                cw.guild, cw.review, cw.mod2, reject_modal["custom_id"], {"reason": "Too dark"}
            ),
        )
        replies = {
            cw.mod.id: (await first.wait_message(timeout=10)).content,
            cw.mod2.id: (await second.wait_message(timeout=10)).content,
        }
        assert first.ephemeral and second.ephemeral
        winners = [m for m, text in replies.items() if text.startswith(("Approved", "Rejected"))]
        assert len(winners) == 1, replies
        (winner,) = winners
        (loser,) = set(replies) - {winner}
        assert "Clip #1 was already" in replies[loser]
        assert f"by <@{winner}>" in replies[loser]

        # Buttons shown before the decision answer at once, saying who decided.
        late = await cw.double.click(cw.guild, cw.general, cw.mod3, stale, "review:hold:1")
        reply = await late.wait_message()
        assert late.ephemeral and late.modal is None
        assert "Clip #1 was already" in reply.content and f"by <@{winner}>" in reply.content
    decisions = await services.clips.decisions(1, cw.guild.id)
    assert [d.actor_id for d in decisions] == [winner]


async def test_two_mods_with_the_same_modal_open_are_both_heard(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    await services.guild_configs.update(cw.guild.id, approvals_required=2)
    mods = (cw.mod, cw.mod2)

    async def open_both() -> list[dict]:
        modals = [await open_modal(cw, member, card, "approve", 1) for member in mods]
        assert modals[0]["custom_id"] != modals[1]["custom_id"]  # one modal per opening
        return modals

    def approval(member, modal: dict):
        values = {"passed": ["quality"], "note": f"fine by {member.id}"}
        return cw.double.submit_modal(cw.guild, cw.review, member, modal["custom_id"], values)

    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        # Quorum 2: both open the approval form; the first submit must not drop the second.
        modals = await open_both()
        replies = []
        for member, modal in zip(mods, modals, strict=True):
            done = await approval(member, modal)
            replies.append((await done.wait_message(timeout=10)).content)
            assert done.ephemeral
        assert replies[0].startswith("Approval counted: clip #1 has 1 of 2"), replies
        assert replies[1].startswith("Approved clip #1."), replies
        decisions = await services.clips.decisions(1, cw.guild.id)
        assert [(d.actor_id, d.reason) for d in decisions] == [
            (m.id, f"fine by {m.id}") for m in mods
        ]

        # Quorum 1, both submitting at once: one decides, the other is told who did.
        await services.guild_configs.update(cw.guild.id, approvals_required=1)
        await command(cw, cw.mod3, "review reopen", {"clip": 1, "reason": "One more look"})
        modals = await open_both()
        submitted = await asyncio.gather(*map(approval, mods, modals))
        replies = {
            m.id: (await done.wait_message(timeout=10)).content
            for m, done in zip(mods, submitted, strict=True)
        }
        winners = [m for m, text in replies.items() if text.startswith("Approved clip #1.")]
        assert len(winners) == 1, replies
        (loser,) = set(replies) - set(winners)
        assert f"Clip #1 was already approved by <@{winners[0]}>" in replies[loser]
    assert (await services.clips.approvers(1, cw.guild.id)) == tuple(winners)


async def test_quorum_self_approval_and_streamer_veto(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    await services.guild_configs.update(cw.guild.id, approvals_required=2)
    async with greenroom(cw.world, services):
        await submit(cw, cw.mod_creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        reply = await refused(cw, cw.mod_creator, card, "approve", 1)
        assert "You can't approve your own clip (#1); another mod has to." in reply

        _, reply = await approve(cw, cw.mod, card, 1)
        assert "has 1 of 2; it needs 1 more" in reply.content
        assert f"1 of 2 approvals (<@{cw.mod.id}>)" in card.text
        assert cw.double.messages(cw.mod_creator) == []  # half an approval is no decision
        _, reply = await approve(cw, cw.mod, card, 1)
        assert "You already approved clip #1; it needs 1 more approval" in reply.content

        _, reply = await approve(cw, cw.mod2, card, 1)
        assert "Approved clip #1." in reply.content
        assert f"Approved by <@{cw.mod.id}>, <@{cw.mod2.id}>" in card.text
        await cw.double.wait_for_message(cw.mod_creator)
        catalog = services.kb(cw.guild.id).catalog
        assert "clip-recipes::1" in await asyncio.to_thread(catalog.documents)

        reply = await refused(cw, cw.mod, card, "veto", 1)
        assert "Only the streamer can veto" in reply
        _, reply = await decide(cw, cw.streamer, card, "veto", 1, "Not our brand")
        assert "Vetoed clip #1." in reply.content
        assert f"Vetoed by the streamer <@{cw.streamer.id}>: Not our brand" in card.text
        assert "clip-recipes::1" not in await asyncio.to_thread(catalog.documents)
        dm = await cw.double.wait_for_message(cw.mod_creator, lambda m: "vetoed" in m.content)
        assert "Not our brand" in dm.content
    assert (await services.clips.get(1, cw.guild.id)).status == S.REJECTED


async def test_resubmission_makes_version_two(clip_world, clip_services, media, clip_server):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        thread = await cw.double.wait_for_thread(cw.review)
        _, reply = await decide(cw, cw.mod, card, "changes", 1, "Make the comet bigger")
        assert "Sent clip #1 back for changes." in reply.content
        dm = await cw.double.wait_for_message(cw.creator)
        assert "Make the comet bigger" in dm.content and "/clip resubmit clip:1" in dm.content

        _, reply = await command(
            cw, cw.creator2, "clip resubmit", {"clip": 1, "url": clip_server.url("/clip.mp4")}
        )
        assert "Only the person who submitted clip #1 can resubmit it." in reply.content
        options = {"clip": 1, "url": clip_server.url("/clip.mp4"), "prompt": "a BIGGER comet"}
        inter, reply = await command(cw, cw.creator, "clip resubmit", options)
        assert inter.ephemeral and "(version 2) as clip #2" in reply.content

        new_card = await cw.double.wait_for_message(
            cw.review, lambda m: m.embeds and m.id != card.id
        )
        assert new_card.embed["title"].endswith("· version 2")
        assert "a BIGGER comet" in new_card.text and "Not a copy" in new_card.text
        assert "Replaced by a newer version" in card.text and card.custom_ids == []
        pointer = await cw.double.wait_for_message(thread)
        assert "Version 2 is up for review as clip #2" in pointer.content

        _, reply = await command(cw, cw.creator, "clip resubmit", {"clip": 1})
        assert "Clip #1 is replaced by a newer version" in reply.content
        _, status = await command(cw, cw.creator, "clip status", {"clip": 2})
        assert "v1: #1 · replaced by a newer version" in status.text
        assert "v2: #2 · waiting for review" in status.text
        _, history = await command(cw, cw.mod, "review history", {"clip": 2})
        assert "asked for changes" in history.text and "sent a new version" in history.text
    versions = await services.clips.versions(2, cw.guild.id)
    assert [(v.version, v.status) for v in versions] == [(1, S.SUPERSEDED), (2, S.SUBMITTED)]
    assert versions[1].title == versions[0].title and versions[1].sha256 != versions[0].sha256


async def test_cards_keep_working_after_a_restart(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
    async with greenroom(cw.world, services):  # a new bot process: the old card still works
        _, queue = await command(cw, cw.mod, "review queue")
        assert "#1" in queue.text
        _, reply = await approve(cw, cw.mod, card, 1)
        assert "Approved clip #1." in reply.content
        assert "Approved by" in card.text
        await cw.double.wait_for_message(cw.creator)


async def test_closed_dms_fall_back_to_a_mention_in_the_cards_thread(
    clip_world, clip_services, media
):
    cw, services = clip_world, clip_services
    cw.double.close_dms(cw.creator)
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        thread = await cw.double.wait_for_thread(cw.review)
        _, reply = await decide(cw, cw.mod, card, "reject", 1, "The logo is warped")
        assert "DMs are closed, so I mentioned them in the card's thread" in reply.content
        ping = await cw.double.wait_for_message(thread)
        assert ping.content.startswith(f"<@{cw.creator.id}> ")
        assert "The logo is warped" in ping.content
        allowed = ping.allowed_mentions
        assert allowed.get("parse") == [] and not allowed.get("roles")
        assert [str(u) for u in allowed["users"]] == [str(cw.creator.id)]
        assert cw.double.messages(cw.creator) == []


async def test_queue_pages_filters_autocomplete_and_stats(clip_world, clip_services):
    cw, services = clip_world, clip_services
    for n in range(12):
        tool, use = ("Runway", "intro") if n % 3 == 0 else ("Sora 2", "alert")
        draft = ClipDraft(title=f"Clip number {n + 1}", prompt="p", tool=tool, use=use)
        await services.clips.submit(cw.guild.id, cw.creator.id, draft)
    async with greenroom(cw.world, services):
        _, page = await command(cw, cw.mod, "review queue")
        assert "**#1**" in page.text and "**#10**" in page.text and "**#11**" not in page.text
        assert page.custom_ids[1].startswith("review:page:next:10:")
        nxt = await cw.double.click(cw.guild, cw.general, cw.mod, page, page.custom_ids[1])
        await nxt.wait_response()
        assert "**#11**" in page.text and "**#12**" in page.text and "**#1**" not in page.text
        denied = await cw.double.click(cw.guild, cw.general, cw.fan, page, page.custom_ids[0])
        assert "Only moderators" in (await denied.wait_message()).content

        _, runway = await command(cw, cw.mod, "review queue", {"tool": "Runway", "use": "intro"})
        assert runway.text.count("**#") == 4 and runway.custom_ids == []
        _, none = await command(cw, cw.mod, "review queue", {"status": "approved"})
        assert "Nothing here" in none.text

        choices = await cw.double.autocomplete(
            cw.guild, cw.general, cw.mod, "review show", "clip", "1"
        )
        assert [c["value"] for c in choices] == [12, 11, 10, 1]
        assert choices[0]["name"].startswith("#12 · Clip number 12")
        mine = await cw.double.autocomplete(
            cw.guild, cw.general, cw.creator, "clip status", "clip", "#1"
        )
        assert [c["value"] for c in mine] == [12, 11, 10, 1]

        _, shown = await command(cw, cw.mod, "review show", {"clip": 3})
        assert "Clip #3: Clip number 3" in shown.text and "In review" in shown.text
        assert "review:approve:3" in shown.custom_ids
        _, stats = await command(cw, cw.mod, "review stats")
        assert "waiting for review: 11" in stats.text and "in review: 1" in stats.text
        _, log = await command(cw, cw.mod, "review log", {"user": cw.mod})
        assert "**#3**" in log.text and "opened for review" in log.text
        _, mine = await command(cw, cw.creator, "clip mine")
        assert "**#12**" in mine.text and "**#1**" in mine.text
