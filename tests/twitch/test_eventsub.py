"""The EventSub WebSocket client against the loopback double: welcome then subscribe, events,
silent keepalives, session_reconnect to a second URL (nothing lost, nothing twice), revocation,
a dropped connection, and a subscribe that fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio

from bot.twitch.errors import TwitchAuthError
from bot.twitch.eventsub import EventSubClient, Notification, Revocation
from bot.twitch.helix import REDEMPTION_ADD
from tests.twitch.conftest import Linked
from tests.twitch.double import TwitchDouble

KEEPALIVE = 0.4


@dataclass
class Listener:
    linked: Linked
    reward_id: str
    client: EventSubClient
    events: list[Notification] = field(default_factory=list)
    revoked: list[Revocation] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)

    @property
    def twitch(self) -> TwitchDouble:
        return self.linked.twitch

    def redemption_ids(self) -> list[str]:
        return [e.event["id"] for e in self.events]

    async def wait_events(self, n: int) -> None:
        await self.twitch.wait_for(lambda: len(self.events) >= n, what=f"{n} events")


def make_client(linked: Linked, reward_id: str, **options) -> Listener:
    listener: Listener

    async def subscribe(session_id: str) -> None:
        await linked.helix.subscribe_redemptions(session_id, linked.broadcaster_id, reward_id)
        listener.subscribed.append(session_id)

    async def on_notification(n: Notification) -> None:
        listener.events.append(n)

    async def on_revocation(r: Revocation) -> None:
        listener.revoked.append(r)

    client = EventSubClient(
        linked.twitch.eventsub_url,
        subscribe=options.pop("subscribe", subscribe),
        on_notification=on_notification,
        on_revocation=on_revocation,
        keepalive_grace=0.2,
        reconnect_delays=(0.0, 0.05),
        **options,
    )
    listener = Listener(linked, reward_id, client)
    return listener


@pytest_asyncio.fixture
async def listener(linked: Linked) -> AsyncIterator[Listener]:
    linked.twitch.keepalive = KEEPALIVE
    linked.twitch.subscribe_deadline = 2.0
    reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Cameo", 10)
    listener = make_client(linked, reward.id)
    task = asyncio.create_task(listener.client.run())
    try:
        await asyncio.wait_for(listener.client.connected.wait(), 5)
        yield listener
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_welcome_subscribes_and_redemptions_arrive(listener: Listener):
    twitch = listener.twitch
    (sub,) = twitch.subscriptions.values()
    assert sub["type"] == REDEMPTION_ADD and sub["version"] == "1"
    assert sub["condition"] == {
        "broadcaster_user_id": listener.linked.broadcaster_id,
        "reward_id": listener.reward_id,
    }
    assert sub["transport"]["session_id"] == listener.client.session_id
    redemption = twitch.add_redemption(listener.reward_id, "FrogFan", "my frog Gerald")
    await listener.wait_events(1)
    (event,) = listener.events
    assert event.subscription_type == REDEMPTION_ADD and event.subscription_id == sub["id"]
    assert event.event["id"] == redemption["id"]
    assert event.event["user_input"] == "my frog Gerald"
    assert event.event["reward"]["id"] == listener.reward_id
    assert event.event["status"] == "UNFULFILLED"
    # Keepalives alone keep the session: after several periods it is the same one.
    await asyncio.sleep(KEEPALIVE * 3)
    assert listener.client.sessions_opened == 1 and len(twitch.live_sessions()) == 1


async def test_silent_keepalives_open_a_new_session_and_subscribe_again(listener: Listener):
    twitch = listener.twitch
    (first,) = twitch.live_sessions()
    twitch.stop_keepalives(first)
    await twitch.wait_for(lambda: listener.client.sessions_opened == 2, what="a new session")
    await asyncio.wait_for(listener.client.connected.wait(), 5)
    assert len(listener.subscribed) == 2 and listener.subscribed[0] != listener.subscribed[1]
    await twitch.wait_for(lambda: first.closed, what="the old socket to close")
    redemption = twitch.add_redemption(listener.reward_id, "fan", "after the reconnect")
    await listener.wait_events(1)
    assert listener.redemption_ids() == [redemption["id"]]


async def test_session_reconnect_moves_without_losing_or_repeating_events(listener: Listener):
    twitch = listener.twitch
    (old,) = twitch.live_sessions()
    (sub,) = twitch.subscriptions.values()
    before = twitch.add_redemption(listener.reward_id, "early", "before the move")
    await listener.wait_events(1)

    await twitch.send_reconnect(old)
    # Sent on the old connection after the reconnect message, while the client moves:
    during = twitch.add_redemption(listener.reward_id, "mid", "during the move", notify=False)
    duplicate = twitch.notification_for(sub, during)
    twitch.send(old, duplicate)
    new = await twitch.wait_for(
        lambda: next((s for s in twitch.live_sessions() if s.url_kind == "reconnect"), None),
        what="the client on the reconnect URL",
    )
    twitch.send(new, duplicate)  # Twitch may deliver a message again on the new connection
    after = twitch.add_redemption(listener.reward_id, "late", "after the move")
    await listener.wait_events(3)
    await asyncio.sleep(KEEPALIVE)  # time for a duplicate to show up if it were let through
    assert listener.redemption_ids() == [before["id"], during["id"], after["id"]]
    assert listener.client.sessions_opened == 1 and len(listener.subscribed) == 1
    assert len(twitch.subscriptions) == 1 and sub["status"] == "enabled"
    assert old.closed and not new.closed and new.id == old.id


async def test_revocation_is_reported(listener: Listener):
    (sub,) = listener.twitch.subscriptions.values()
    listener.twitch.revoke(sub["id"], "authorization_revoked")
    await listener.twitch.wait_for(lambda: listener.revoked, what="the revocation")
    (revoked,) = listener.revoked
    assert revoked.subscription_id == sub["id"] and revoked.status == "authorization_revoked"
    assert revoked.condition["reward_id"] == listener.reward_id
    listener.twitch.add_redemption(listener.reward_id, "fan", "nobody hears this")
    await asyncio.sleep(0.1)
    assert listener.events == []


async def test_a_dropped_connection_reconnects_and_resubscribes(listener: Listener):
    twitch = listener.twitch
    (first,) = twitch.live_sessions()
    await first.ws.close(code=4000, message=b"Internal server error")
    await twitch.wait_for(lambda: len(listener.subscribed) == 2, what="a resubscription")
    redemption = twitch.add_redemption(listener.reward_id, "fan", "still here")
    await listener.wait_events(1)
    assert listener.redemption_ids() == [redemption["id"]]


async def test_a_failing_subscribe_backs_off_and_an_auth_failure_stops(linked: Linked):
    linked.twitch.keepalive = KEEPALIVE
    reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Cameo", 10)
    attempts: list[str] = []

    async def flaky(session_id: str) -> None:
        attempts.append(session_id)
        if len(attempts) < 3:
            raise httpx.ConnectError("Twitch is down")
        await linked.helix.subscribe_redemptions(session_id, linked.broadcaster_id, reward.id)

    listener = make_client(linked, reward.id, subscribe=flaky)
    task = asyncio.create_task(listener.client.run())
    try:
        await asyncio.wait_for(listener.client.connected.wait(), 5)
        assert len(attempts) == 3 and len(set(attempts)) == 3  # a new session each time
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def logged_out(session_id: str) -> None:
        raise TwitchAuthError("run `greenroom twitch login`")

    listener = make_client(linked, reward.id, subscribe=logged_out)
    with pytest.raises(TwitchAuthError):
        await asyncio.wait_for(listener.client.run(), 5)


async def test_a_session_that_never_subscribes_is_closed_by_twitch(linked: Linked):
    """The double enforces Twitch's 10 s rule (here 0.3 s): a slow subscribe loses the
    session, and the client opens a new one."""
    linked.twitch.subscribe_deadline = 0.3
    reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Cameo", 10)
    calls: list[str] = []

    async def slow_then_fast(session_id: str) -> None:
        calls.append(session_id)
        if len(calls) == 1:
            await asyncio.sleep(0.6)
        await linked.helix.subscribe_redemptions(session_id, linked.broadcaster_id, reward.id)

    listener = make_client(linked, reward.id, subscribe=slow_then_fast)
    task = asyncio.create_task(listener.client.run())
    try:
        await asyncio.wait_for(listener.client.connected.wait(), 5)
        assert len(calls) == 2
        assert linked.twitch.sessions[0].closed
        assert linked.twitch.sessions[0].close_code == 4003
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
