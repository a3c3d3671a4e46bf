"""Redemptions over EventSub's WebSocket (the bot needs no public address), through twitchAPI's
`EventSubWebsocket`, its `connection_url` and `subscription_url` pointed where the settings say.

The library connects, takes the `session_welcome`, subscribes (`listen_*`, as the broadcaster),
opens a new session on the first URL and subscribes again when keepalives stop (twice the
keepalive timeout) or the socket drops, follows `session_reconnect` to the new URL (reading the
old connection until the new one is welcomed, then closing it), and hands notifications and
revocations to handlers.

`RedemptionListener` wraps it, for what it leaves undone:
- `start()` runs the client in a thread with its own event loop and blocks its caller in a sleep
  loop until the welcome, with no timeout and no way out; `stop()` blocks too. Both run in
  worker threads here. `start()` is bounded by `start_timeout`; past it, its thread is released
  by setting the flag it waits on (`_startup_complete`).
- Handlers run as tasks it does not keep, on its loop; with `callback_loop` it would create them
  on the bot's loop from its own thread, which asyncio does not allow (`create_task` is not
  thread-safe: the bot's loop may not wake for them). So our handlers only put the event on an
  `asyncio.Queue` of the bot's loop (`call_soon_threadsafe`), and one task of ours (`_pump`,
  kept, its errors logged) handles them in order.
- It keeps a list of message ids for de-duplication but never fills it: `_pump` drops a message
  id it has seen (Twitch may send one on both connections during a `session_reconnect`).
- It tells no one when it opened a new session, while redemptions in the gap were not sent:
  `run()` watches `active_session` and calls `on_session` for each new one (the cog then lists
  the UNFULFILLED redemptions), once the library has subscribed again on it: it drops events
  that come before a subscription's handler is registered, so the listing must come after.
- It exposes no health: its receive task ends on a socket error and its reconnect task ends when
  every `reconnect_delay_steps` attempt failed (we make those few), and nothing restarts them.
  `run()` reads its task list (`_tasks`) and, when one has ended or the first subscribe failed,
  stops it and starts a new client with back-off.
- Its socket thread is not a daemon: one left running holds the process open at exit. So a
  listener stopped while `start()` runs waits for it to return before calling `stop()`.
- `stop()` waits forever when the client's thread has already ended (its loop is gone): it is
  called only while that loop runs (`_socket_loop`), from a daemon thread, bounded.
Those private attributes (`_startup_complete`, `_tasks`, `_socket_loop`,
`_active_subscriptions`, and `_closing` when `stop()` failed) are the only ones used; twitchAPI
is pinned to 4.5.0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from twitchAPI.eventsub.websocket import EventSubWebsocket

from bot.twitch.errors import TwitchAuthError, TwitchError, TwitchUnavailable
from bot.twitch.helix import REDEMPTION_ADD, HelixClient, Redemption

log = logging.getLogger(__name__)

DEFAULT_EVENTSUB_URL = "wss://eventsub.wss.twitch.tv/ws"
RESTART_DELAYS = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)  # between new clients; the last one repeats
AUTH_RETRY_SECONDS = 300.0  # no login: look at the token file again this often
STOP_TIMEOUT = 10.0
CONNECT_DELAYS = (0, 1, 2)  # the library's attempts to open the socket, in seconds


@dataclass(frozen=True)
class Notification:
    message_id: str
    subscription_type: str
    subscription_id: str
    redemption: Redemption


@dataclass(frozen=True)
class Revocation:
    subscription_id: str
    subscription_type: str
    status: str  # authorization_revoked, user_removed, version_removed, ...
    condition: dict[str, Any]


Rewards = Callable[[], Awaitable[Sequence[tuple[str, str]]]]  # (broadcaster_id, reward_id)


class RedemptionListener:
    def __init__(
        self,
        helix: HelixClient,
        url: str,
        *,
        rewards: Rewards,
        on_notification: Callable[[Notification], Awaitable[None]],
        on_revocation: Callable[[Revocation], Awaitable[None]] | None = None,
        on_session: Callable[[str], Awaitable[None]] | None = None,
        start_timeout: float = 15.0,
        restart_delays: Sequence[float] = RESTART_DELAYS,
        auth_retry_seconds: float = AUTH_RETRY_SECONDS,
        watch_interval: float = 0.1,
        remember: int = 1000,
    ) -> None:
        self.helix = helix
        self.url = url
        self.rewards = rewards
        self.on_notification = on_notification
        self.on_revocation = on_revocation
        self.on_session = on_session
        self.start_timeout = start_timeout
        self.restart_delays = tuple(restart_delays) or (1.0,)
        self.auth_retry_seconds = auth_retry_seconds
        self.watch_interval = watch_interval
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._queue: asyncio.Queue[Notification | Revocation] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: EventSubWebsocket | None = None
        self._tasks: set[asyncio.Task] = set()  # ours, kept until done
        self._starting: asyncio.Future | None = None  # start() in its worker thread
        self.session_id: str | None = None
        self._subscribed: set[str] = set()  # the library's subscriptions on that session
        self.sessions_opened = 0  # sessions that were subscribed (a session_reconnect keeps one)
        self.state = "not started"  # for logs and `status`: listening, starting, failed: ...
        self.connected = asyncio.Event()

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Listen until cancelled: a client that fails to start or stops working is replaced."""
        self._loop = asyncio.get_running_loop()
        pump = asyncio.create_task(self._pump(), name="twitch-eventsub-pump")
        failures = 0
        try:
            while True:
                try:
                    await self._open()
                    failures = 0
                    await self._watch()
                    log.warning("the EventSub client stopped working; starting a new one")
                except TwitchAuthError as exc:
                    self.state = f"login needed: {exc}"
                    log.error("EventSub is off until Twitch is linked again: %s", exc)
                    await self._close()
                    await asyncio.sleep(self.auth_retry_seconds)
                    continue
                except TwitchError as exc:
                    self.state = f"failed: {exc}"
                    log.warning("EventSub could not start (%s); trying again", exc)
                    failures += 1
                await self._close()
                delay = self.restart_delays[min(failures, len(self.restart_delays) - 1)]
                await asyncio.sleep(delay)
        finally:
            await self._close()
            for task in (pump, *self._tasks):
                task.cancel()
            await asyncio.gather(pump, *self._tasks, return_exceptions=True)

    async def _open(self) -> None:
        self.state = "starting"
        twitch = await self.helix.twitch()
        ws = EventSubWebsocket(
            twitch,
            connection_url=self.url,
            subscription_url=self.helix.api_url,
            revocation_handler=self._heard_revocation,
        )
        self._ws = ws
        await self._start(ws)
        session = ws.active_session.id
        for broadcaster_id, reward_id in await self.rewards():
            # One attempt: a session that is not subscribed within 10 s is closed by Twitch, so
            # a failure here starts over with a new client rather than retrying on this one.
            await self.helix.attempt(
                "subscribe to redemptions", self._subscription(ws, broadcaster_id, reward_id)
            )
        self._new_session(session, ws)
        self.state = "listening"
        self.connected.set()

    def _subscription(self, ws: EventSubWebsocket, broadcaster_id: str, reward_id: str):
        def subscribe() -> Awaitable[str]:
            return ws.listen_channel_points_custom_reward_redemption_add(
                broadcaster_id, self._heard_redemption, reward_id=reward_id
            )

        return subscribe

    async def _start(self, ws: EventSubWebsocket) -> None:
        # Its connection attempts end sooner than its default 255 s: a client that gave up is
        # replaced by `run()`, with our back-off.
        ws.reconnect_delay_steps = list(CONNECT_DELAYS)
        self._starting = asyncio.ensure_future(asyncio.to_thread(ws.start))
        if not await self._started(ws):
            raise TwitchUnavailable(f"EventSub sent no welcome within {self.start_timeout:.0f} s")

    async def _started(self, ws: EventSubWebsocket) -> bool:
        """Wait for start(), bounded; False when it timed out (then released). `_close` calls
        it again when `run()` was cancelled meanwhile: the client must have started before
        it can be stopped."""
        starting = self._starting
        if starting is None:
            return True
        try:
            # asyncio.timeout, not wait_for: in 3.11 wait_for loses a cancellation that arrives
            # as the awaited thing finishes, and the bot's shutdown would then wait forever.
            async with asyncio.timeout(self.start_timeout):
                await asyncio.shield(starting)
        except TimeoutError:
            ws._startup_complete = True  # releases start()'s wait loop (module docstring)
            await asyncio.shield(starting)
            return False
        except Exception as exc:  # e.g. UnauthorizedException: no user login set
            raise TwitchUnavailable(f"EventSub did not start ({type(exc).__name__})") from None
        finally:
            if starting.done():
                self._starting = None
        return True

    async def _watch(self) -> None:
        """Until the client's own tasks end: report each new session it opens, once the
        library has subscribed on it again. It drops an event that comes before it has
        registered the subscription's handler, so the catch-up `on_session` starts must come
        after that to find such an event."""
        ws = self._ws
        while True:
            await asyncio.sleep(self.watch_interval)
            tasks = getattr(ws, "_tasks", None) or []
            if any(task.done() for task in tasks):  # each should run until stop()
                return
            session = ws.active_session
            if session is not None and session.id != self.session_id:
                subscribed = _subscription_ids(ws)
                if subscribed and not subscribed & self._subscribed:
                    self._new_session(session.id, ws)

    def _new_session(self, session_id: str, ws: EventSubWebsocket) -> None:
        self.session_id = session_id
        self._subscribed = _subscription_ids(ws)
        self.sessions_opened += 1
        log.info("EventSub session %s is listening", session_id)
        if self.on_session is not None:
            self._spawn(self.on_session(session_id), "twitch-eventsub-session")

    async def _close(self) -> None:
        self.connected.clear()
        ws, self._ws = self._ws, None
        if ws is None:
            return
        if self._starting is not None:  # stopped while starting: let start() end first
            with contextlib.suppress(Exception):
                await self._started(ws)
        loop = ws._socket_loop
        if loop is None or not loop.is_running():
            return  # its thread already ended: stop() would wait for it forever
        # stop() blocks until the client's loop has closed the socket: a daemon thread, so a
        # stop that never returns cannot hold the process open.
        done = asyncio.get_running_loop().create_future()
        self._in_thread(lambda: asyncio.run(ws.stop()), done)
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await asyncio.shield(done)
        except Exception:
            # e.g. stop() after a start() we released had no socket to close: end its thread's
            # keep-alive loop directly, or the thread (not a daemon) would outlive the bot.
            ws._closing = True
            log.warning("the EventSub client did not stop cleanly", exc_info=True)

    @staticmethod
    def _in_thread(work: Callable[[], Any], done: asyncio.Future) -> None:
        loop = done.get_loop()

        def run() -> None:
            try:
                result, error = work(), None
            except BaseException as exc:  # handed back to the waiting loop
                result, error = None, exc

            def settle() -> None:
                if done.done():
                    return
                if error is None:
                    done.set_result(result)
                else:
                    done.set_exception(error)

            # RuntimeError: the bot's loop has closed, nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle)

        threading.Thread(target=run, name="twitch-eventsub-stop", daemon=True).start()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("%s failed", task.get_name(), exc_info=(type(exc), exc, exc.__traceback__))

    # --- the handlers the library calls (on its own loop, in its thread) --------------------

    def _hand_over(self, item: Notification | Revocation) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:
            log.warning("EventSub message %s arrived after the bot stopped", item)

    async def _heard_redemption(self, event: Any) -> None:
        metadata = getattr(event, "metadata", None)
        subscription = getattr(event, "subscription", None)
        self._hand_over(
            Notification(
                message_id=getattr(metadata, "message_id", "") or "",
                subscription_type=getattr(subscription, "type", "") or REDEMPTION_ADD,
                subscription_id=getattr(subscription, "id", "") or "",
                redemption=Redemption.from_library(event.event),
            )
        )

    async def _heard_revocation(self, payload: dict[str, Any]) -> None:
        subscription = payload.get("subscription") or {}
        self._hand_over(
            Revocation(
                subscription_id=subscription.get("id", ""),
                subscription_type=subscription.get("type", ""),
                status=subscription.get("status", ""),
                condition=subscription.get("condition") or {},
            )
        )

    # --- on the bot's loop ------------------------------------------------------------------

    async def _pump(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, Revocation):
                    log.warning(
                        "Twitch revoked EventSub subscription %s (%s)",
                        item.subscription_id,
                        item.status,
                    )
                    if self.on_revocation is not None:
                        await self.on_revocation(item)
                    continue
                if item.message_id and item.message_id in self._seen:
                    log.debug("EventSub message %s arrived twice; handled once", item.message_id)
                    continue
                self._seen[item.message_id] = None
                while len(self._seen) > self._remember:
                    self._seen.popitem(last=False)
                await self.on_notification(item)
            except Exception:
                # Twitch still holds the redemption: the next catch-up finds it.
                log.exception("handling an EventSub message failed")


def _subscription_ids(ws: EventSubWebsocket) -> set[str]:
    """The ids of the subscriptions the library has registered handlers for (its thread fills
    them while it subscribes again on a new session)."""
    try:
        return set(getattr(ws, "_active_subscriptions", {}))
    except RuntimeError:  # changed size while copied: it is subscribing right now
        return set()
