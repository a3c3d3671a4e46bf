"""Cameo requests without Discord: recorded once, decided once when two mods race, pushed to
Twitch (kept pending and retried when Twitch fails), expired, caught up after downtime, and an
audit that cannot be rewritten."""

from __future__ import annotations

import asyncio

import aiosqlite
import pytest
import pytest_asyncio

from bot.storage import Database
from bot.twitch.cameo import CameoQueue
from bot.twitch.requests import RequestAlreadyDecided, RequestError, RequestState, RequestStore
from tests.twitch.conftest import redemption_of

GUILD = 4242
REDEMPTIONS = r"/helix/channel_points/custom_rewards/redemptions$"
S = RequestState


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def queue(linked, tmp_path):
    db = await Database.open(tmp_path / "greenroom.sqlite3")
    clock = Clock()
    store = await RequestStore.open(db, clock)
    reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Frog cameo", 300)
    await store.add_reward(GUILD, reward, "pixelmoth")
    queue = CameoQueue(store, linked.helix)
    queue.clock, queue.reward = clock, reward
    try:
        yield queue
    finally:
        await db.close()


def redeem(linked, queue, text="my frog Gerald", notify=False):
    data = linked.twitch.add_redemption(queue.reward.id, "FrogFan", text, notify=notify)
    return data, redemption_of(data)


async def test_a_redemption_is_recorded_once(linked, queue):
    data, redemption = redeem(linked, queue)
    first = await queue.record(redemption)
    assert first is not None and first.state == S.OPEN and first.guild_id == GUILD
    assert (first.user_name, first.user_input) == ("FrogFan", "my frog Gerald")
    assert first.reward_title == "Frog cameo"
    assert await queue.record(redemption) is None  # the same redemption again: no new card
    assert await queue.catch_up() == []  # and the catch-up knows it too
    unknown = redemption_of({**data, "id": "red-x", "reward": {"id": "rew-unknown"}})
    assert await queue.record(unknown) is None
    # The same redemption heard twice at once (EventSub and the catch-up): one request, and
    # the next request's number follows on (no id used up by the duplicate).
    _, again = redeem(linked, queue, "twice")
    both = await asyncio.gather(queue.record(again), queue.record(again))
    assert [r.id for r in both if r is not None] == [2]
    _, third = redeem(linked, queue, "next")
    assert (await queue.record(third)).id == 3


async def test_missed_redemptions_are_caught_up_once(linked, queue):
    missed = [redeem(linked, queue, f"cameo {i}")[0] for i in range(3)]
    found = await queue.catch_up()
    assert [r.redemption_id for r in found] == [m["id"] for m in missed]
    assert await queue.catch_up() == []


async def test_reject_cancels_on_twitch_and_two_mods_make_one_update(linked, queue):
    data, redemption = redeem(linked, queue)
    request = await queue.record(redemption)
    results = await asyncio.gather(
        queue.decide(request.id, GUILD, "reject", 11, "not a frog"),
        queue.decide(request.id, GUILD, "accept", 12),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, RequestAlreadyDecided)]
    assert len(winners) == 1 and len(losers) == 1
    patches = linked.twitch.requests_to("PATCH", REDEMPTIONS)
    if winners[0].state == S.REJECTED:
        assert len(patches) == 1 and data["status"] == "CANCELED"
        assert winners[0].twitch_status == "CANCELED" and winners[0].pending_status is None
    else:
        assert patches == [] and data["status"] == "UNFULFILLED"
    assert "already" in str(losers[0])


async def test_fulfil_only_after_accept_and_only_while_unfulfilled(linked, queue):
    data, redemption = redeem(linked, queue)
    request = await queue.record(redemption)
    with pytest.raises(RequestAlreadyDecided):
        await queue.decide(request.id, GUILD, "fulfil", 11)
    accepted = await queue.decide(request.id, GUILD, "accept", 11)
    assert accepted.state == S.ACCEPTED and linked.twitch.requests_to("PATCH", REDEMPTIONS) == []
    done = await queue.decide(request.id, GUILD, "fulfil", 11)
    assert done.state == S.FULFILLED and done.twitch_status == "FULFILLED"
    assert data["status"] == "FULFILLED"
    with pytest.raises(RequestAlreadyDecided):
        await queue.decide(request.id, GUILD, "reject", 12, "too late")
    with pytest.raises(RequestError, match="no request #99"):
        await queue.decide(99, GUILD, "accept", 11)
    with pytest.raises(RequestError):
        await queue.decide(request.id, GUILD + 1, "accept", 11)  # another server's request

    # Refunded on Twitch by hand meanwhile: Twitch refuses FULFILLED; recorded, not retried.
    other_data, other = redeem(linked, queue, "a newt")
    other_request = await queue.record(other)
    await queue.decide(other_request.id, GUILD, "accept", 11)
    other_data["status"] = "CANCELED"
    refused = await queue.decide(other_request.id, GUILD, "fulfil", 11)
    assert refused.pending_status is None and "404" in refused.twitch_error
    assert await queue.push_pending() == []


async def test_a_failed_update_stays_pending_and_is_retried(linked, queue):
    data, redemption = redeem(linked, queue)
    request = await queue.record(redemption)
    # Each 503 is retried once by the library, then three more times by us: 8 refusals.
    linked.twitch.fail_next("PATCH", REDEMPTIONS, 503, times=8)
    rejected = await queue.decide(request.id, GUILD, "reject", 11, "no")
    assert rejected.state == S.REJECTED and rejected.pending_status == "CANCELED"
    assert "5xx" in rejected.twitch_error and data["status"] == "UNFULFILLED"
    (done,) = await queue.push_pending()
    assert done.twitch_status == "CANCELED" and data["status"] == "CANCELED"
    assert await queue.push_pending() == []
    assert len(linked.twitch.requests_to("PATCH", REDEMPTIONS)) == 9


async def test_undecided_requests_expire_with_a_refund(linked, queue):
    old_data, old = redeem(linked, queue, "old")
    old_request = await queue.record(old)
    queue.clock.now += 3600
    held_data, held = redeem(linked, queue, "held")
    held_request = await queue.record(held)
    await queue.decide(held_request.id, GUILD, "hold", 11)
    accepted_data, accepted = redeem(linked, queue, "accepted")
    accepted_request = await queue.record(accepted)
    await queue.decide(accepted_request.id, GUILD, "accept", 11)
    queue.clock.now += 10

    expired = await queue.expire(older_than=queue.clock.now - 1800)
    assert [r.id for r in expired] == [old_request.id]
    assert expired[0].state == S.EXPIRED and expired[0].reason == "expired"
    assert old_data["status"] == "CANCELED"
    expired = await queue.expire(older_than=queue.clock.now)
    assert [r.id for r in expired] == [held_request.id] and held_data["status"] == "CANCELED"
    assert accepted_data["status"] == "UNFULFILLED"  # accepted requests wait for their clip


async def test_the_audit_is_append_only(linked, queue):
    _, redemption = redeem(linked, queue)
    request = await queue.record(redemption)
    await queue.decide(request.id, GUILD, "reject", 11, "no thanks")
    entries = await queue.store.audit(request.id)
    assert [(e.action, e.actor_id, e.to_state) for e in entries] == [
        ("redeemed", 0, "open"),
        ("reject", 11, "rejected"),
        ("twitch", 0, "rejected"),
    ]
    assert entries[1].reason == "no thanks" and entries[2].reason == "CANCELED"
    for sql in ("UPDATE twitch_request_audit SET reason = 'x'", "DELETE FROM twitch_request_audit"):
        with pytest.raises(aiosqlite.IntegrityError, match="append-only"):
            await queue.store.db.execute(sql)


async def test_a_guild_is_linked_to_one_broadcaster(linked, queue):
    other = linked.twitch.add_user("someone")
    from bot.twitch.helix import CustomReward

    with pytest.raises(RequestError, match="already linked"):
        await queue.store.add_reward(GUILD, CustomReward("rew-2", other, "x", 1, ""), "someone")
    second = CustomReward("rew-3", linked.broadcaster_id, "Second", 5, "")
    await queue.store.add_reward(GUILD, second, "pixelmoth")
    assert [r.reward_id for r in await queue.store.rewards(GUILD)] == [queue.reward.id, "rew-3"]


async def test_clip_links_fulfil_requeue_and_a_v1_database_gains_the_column(linked, tmp_path):
    """One clip per accepted request; approval fulfils it (pushed), rejection requeues it; a
    database made before clip links keeps its requests and gains `clip_id`."""
    from bot.twitch.requests import MIGRATIONS

    db = await Database.open(tmp_path / "old.sqlite3")
    try:
        await db.migrate("twitch", MIGRATIONS[:1])
        store = await RequestStore.open(db, Clock())
        reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Frog cameo", 300)
        await store.add_reward(GUILD, reward, "pixelmoth")
        queue = CameoQueue(store, linked.helix)
        queue.reward = reward
        data, redemption = redeem(linked, queue)
        request = await queue.record(redemption)
        assert request.clip_id is None
        with pytest.raises(RequestError, match="only accepted requests"):
            await store.link_clip(request.id, GUILD, 7, 11)
        await store.decide(request.id, GUILD, "accept", 11)
        assert [r.id for r in await store.open_for_clip(GUILD)] == [request.id]
        assert await store.open_for_clip(GUILD + 1) == []
        linked_once = await store.link_clip(request.id, GUILD, 7, 12)
        assert linked_once.clip_id == 7 and await store.open_for_clip(GUILD) == []
        with pytest.raises(RequestError, match="already has clip #7"):
            await store.link_clip(request.id, GUILD, 8, 13)
        back = await queue.clip_rejected(linked_once, 7, 11, "blurry")
        assert back.state == S.ACCEPTED and back.clip_id is None and "blurry" in back.reason
        assert await queue.clip_rejected(linked_once, 7, 11) is None  # settled already
        again = await store.link_clip(request.id, GUILD, 8, 12)
        done = await queue.clip_approved(again, 8, 11)
        assert done.state == S.FULFILLED and done.twitch_status == "FULFILLED"
        assert data["status"] == "FULFILLED"
        assert await queue.clip_approved(again, 8, 11) is None
        actions = [e.action for e in await store.audit(request.id)]
        assert actions == [
            "redeemed", "accept", "link_clip", "requeue", "link_clip", "fulfil", "twitch",
        ]  # fmt: skip
    finally:
        await db.close()
