"""Redemptions over EventSub: our `RedemptionListener` around twitchAPI's `EventSubWebsocket`,
against the loopback double: welcome then subscribe, events, silent keepalives (a new session,
subscribed again by the library and reported by us), session_reconnect to a second URL (nothing
lost, nothing twice), revocation, a dropped connection, a subscribe that fails, a lost login,
and the library's thread gone after the listener stops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest_asyncio

from bot.twitch.eventsub import Notification, RedemptionListener, Revocation
from bot.twitch.helix import REDEMPTION_ADD
from tests.twitch.conftest import Linked
from tests.twitch.double import TwitchDouble

KEEPALIVE = 0.4  # the library reconnects after twice this without a message
SUBSCRIPTIONS = r"/helix/eventsub/subscriptions$"


@dataclass
class Listener:
    linked: Linked
    reward_id: str
    client: RedemptionListener
    events: list[Notification] = field(default_factory=list)
    revoked: list[Revocation] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    task: asyncio.Task | None = None

    @property
    def twitch(self) -> TwitchDouble:
        return self.linked.twitch

    def redemption_ids(self) -> list[str]:
        return [e.redemption.id for e in self.events]

    async def wait_events(self, n: int) -> None:
        await self.twitch.wait_for(lambda: len(self.events) >= n, what=f"{n} events")

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await library_threads_gone()


def library_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_run_socket" in t.name]


async def library_threads_gone() -> None:
    """EventSubWebsocket's thread (not a daemon: it would hold the process open) has ended."""
    deadline = asyncio.get_running_loop().time() + 5
    while library_threads():
        assert asyncio.get_running_loop().time() < deadline, "the library's thread is still up"
        await asyncio.sleep(0.02)


def start(linked: Linked, reward_id: str, **options) -> Listener:
    listener: Listener

    async def rewards():
        return [(linked.broadcaster_id, reward_id)]

    async def on_notification(n: Notification) -> None:
        listener.events.append(n)

    async def on_revocation(r: Revocation) -> None:
        listener.revoked.append(r)

    async def on_session(session_id: str) -> None:
        listener.sessions.append(session_id)

    client = RedemptionListener(
        linked.helix,
        linked.twitch.eventsub_url,
        rewards=rewards,
        on_notification=on_notification,
        on_revocation=on_revocation,
        on_session=on_session,
        restart_delays=(0.0, 0.05),
        start_timeout=3.0,
        **options,
    )
    listener = Listener(linked, reward_id, client)
    listener.task = asyncio.create_task(client.run())
    return listener


@pytest_asyncio.fixture
async def listener(linked: Linked) -> AsyncIterator[Listener]:
    linked.twitch.keepalive = KEEPALIVE
    linked.twitch.subscribe_deadline = 2.0
    reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Cameo", 10)
    listener = start(linked, reward.id)
    try:
        await asyncio.wait_for(listener.client.connected.wait(), 5)
        yield listener
    finally:
        await listener.stop()


async def test_welcome_subscribes_and_redemptions_arrive(listener: Listener):
    twitch = listener.twitch
    (sub,) = twitch.subscriptions.values()
    assert sub["type"] == REDEMPTION_ADD and sub["version"] == "1"
    assert sub["condition"] == {
        "broadcaster_user_id": listener.linked.broadcaster_id,
        "reward_id": listener.reward_id,
    }
    assert sub["transport"]["session_id"] == listener.client.session_id
    assert listener.sessions == [listener.client.session_id]  # reported: the cog catches up
    redemption = twitch.add_redemption(listener.reward_id, "FrogFan", "my frog Gerald")
    await listener.wait_events(1)
    (event,) = listener.events
    assert event.subscription_type == REDEMPTION_ADD and event.subscription_id == sub["id"]
    assert event.redemption.id == redemption["id"]
    assert event.redemption.user_input == "my frog Gerald"
    assert event.redemption.user_name == "FrogFan" and event.redemption.user_login == "frogfan"
    assert event.redemption.reward_id == listener.reward_id
    assert event.redemption.status == "UNFULFILLED"
    assert event.redemption.redeemed_at == redemption["redeemed_at"]
    # Keepalives alone keep the session: after several periods it is the same one.
    await asyncio.sleep(KEEPALIVE * 3)
    assert listener.client.sessions_opened == 1 and len(twitch.live_sessions()) == 1


async def test_silent_keepalives_open_a_new_session_and_subscribe_again(listener: Listener):
    twitch = listener.twitch
    (first,) = twitch.live_sessions()
    twitch.stop_keepalives(first)
    await twitch.wait_for(lambda: len(listener.sessions) == 2, what="a new session reported")
    assert listener.sessions[0] != listener.sessions[1]
    await twitch.wait_for(lambda: first.closed, what="the old socket to close")
    statuses = sorted(s["status"] for s in twitch.subscriptions.values())
    assert statuses == ["enabled", "websocket_disconnected"]  # the library subscribed again
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
    await twitch.wait_for(lambda: old.closed, what="the client to close the old connection")
    after = twitch.add_redemption(listener.reward_id, "late", "after the move")
    await listener.wait_events(3)
    await asyncio.sleep(KEEPALIVE)  # time for a duplicate to show up if it were let through
    assert listener.redemption_ids() == [before["id"], during["id"], after["id"]]
    assert listener.client.sessions_opened == 1 and len(listener.sessions) == 1
    assert len(twitch.subscriptions) == 1 and sub["status"] == "enabled"
    assert old.close_code is None  # closed by the client, not by Twitch's grace timer
    assert not new.closed and new.id == old.id


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
    await twitch.wait_for(lambda: len(listener.sessions) == 2, what="a new session")
    await twitch.wait_for(
        lambda: [s["status"] for s in twitch.subscriptions.values()].count("enabled") == 1,
        what="the resubscription",
    )
    redemption = twitch.add_redemption(listener.reward_id, "fan", "still here")
    await listener.wait_events(1)
    assert listener.redemption_ids() == [redemption["id"]]


async def test_a_failing_subscribe_starts_a_new_client_and_a_lost_login_waits(linked: Linked):
    twitch = linked.twitch
    twitch.keepalive = KEEPALIVE
    reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Cameo", 10)
    twitch.fail_next("POST", SUBSCRIPTIONS, 503, times=2)
    listener = start(linked, reward.id)
    try:
        await asyncio.wait_for(listener.client.connected.wait(), 5)
        statuses = [r.status for r in twitch.requests_to("POST", SUBSCRIPTIONS)]
        assert statuses == [503, 503, 202]
        assert len(twitch.sessions) == 3  # a new session (and client) for each try
        assert listener.sessions == [listener.client.session_id]
    finally:
        await listener.stop()

    # The login is gone (refresh token revoked): no tight loop, the state says why.
    twitch.expire_tokens()
    twitch.revoke_refresh_tokens()
    linked.helix.forget()
    listener = start(linked, reward.id, auth_retry_seconds=3600)
    try:
        await twitch.wait_for(
            lambda: listener.client.state.startswith("login needed"), what="the auth state"
        )
        assert "greenroom twitch login" in listener.client.state
        assert not listener.client.connected.is_set()
    finally:
        await listener.stop()


async def test_a_listener_stopped_while_starting_leaves_no_thread(linked: Linked):
    """Cancelled before the welcome (the bot shutting down at once): start() is let finish,
    then the client is stopped, so its thread (not a daemon) does not outlive the bot."""
    reward = await linked.helix.create_custom_reward(linked.broadcaster_id, "Cameo", 10)
    for pause in (0.0, 0.01, 0.05):
        listener = start(linked, reward.id)
        await asyncio.sleep(pause)
        await listener.stop()
        assert not listener.client.connected.is_set()
