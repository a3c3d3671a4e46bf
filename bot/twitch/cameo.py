"""The cameo-request workflow between the request store and Twitch, without Discord: record
redemptions (live or found on start), push decided statuses to Twitch, expire old requests."""

from __future__ import annotations

import logging

from bot.twitch.errors import TwitchAuthError, TwitchRequestError, TwitchUnavailable
from bot.twitch.helix import HelixClient, Redemption
from bot.twitch.requests import BOT_ACTOR, CameoRequest, RequestAlreadyDecided, RequestStore

log = logging.getLogger(__name__)

EXPIRED_REASON = "expired"


class CameoQueue:
    def __init__(self, store: RequestStore, helix: HelixClient | None) -> None:
        self.store = store
        self.helix = helix

    async def record(self, redemption: Redemption) -> CameoRequest | None:
        """The request if this redemption is new (it needs a card), else None."""
        request, new = await self.store.record(redemption)
        return request if new else None

    async def catch_up(self) -> list[CameoRequest]:
        """Redemptions still UNFULFILLED on Twitch that no request holds yet (they came while
        the bot was down): recorded now, each once."""
        if self.helix is None:
            return []
        found: list[CameoRequest] = []
        for reward in await self.store.rewards():
            for redemption in await self.helix.redemptions(reward.broadcaster_id, reward.reward_id):
                request = await self.record(redemption)
                if request is not None:
                    found.append(request)
        if found:
            log.info("found %d redemptions that arrived while the bot was away", len(found))
        return found

    async def push(self, request: CameoRequest) -> CameoRequest:
        """Send the request's pending status to Twitch. A failure that may pass (network, 5xx,
        rate limit, an expired login) keeps it pending for the next try; a refusal (Twitch says
        the redemption is no longer UNFULFILLED) is recorded and not retried."""
        status = request.pending_status
        if status is None:
            return request
        if self.helix is None:
            return await self.store.twitch_failed(request, "Twitch is not set up")
        try:
            await self.helix.update_redemption_status(
                request.broadcaster_id, request.reward_id, request.redemption_id, status
            )
        except (TwitchUnavailable, TwitchAuthError) as exc:
            log.warning("request #%d: Twitch did not take %s yet: %s", request.id, status, exc)
            return await self.store.twitch_failed(request, str(exc))
        except TwitchRequestError as exc:
            log.warning("request #%d: Twitch refused %s: %s", request.id, status, exc)
            return await self.store.twitch_failed(request, str(exc), give_up=True)
        return await self.store.twitch_took(request, status)

    async def push_pending(self) -> list[CameoRequest]:
        """Retry every update Twitch has not taken yet; the requests that went through."""
        done = []
        for request in await self.store.pending():
            after = await self.push(request)
            if after.pending_status is None:
                done.append(after)
        return done

    async def expire(self, older_than: float) -> list[CameoRequest]:
        """Cancel (refund) requests nobody decided in time; each is then pushed to Twitch."""
        expired = []
        for request in await self.store.stale(older_than):
            try:
                request = await self.store.decide(
                    request.id, request.guild_id, "expire", BOT_ACTOR, EXPIRED_REASON
                )
            except RequestAlreadyDecided:
                continue  # a mod decided it just now
            expired.append(await self.push(request))
        return expired

    async def decide(
        self, request_id: int, guild_id: int, action: str, actor_id: int, reason: str = ""
    ) -> CameoRequest:
        """A mod's decision; when it changes the Twitch status it is pushed at once."""
        request = await self.store.decide(request_id, guild_id, action, actor_id, reason)
        return await self.push(request) if request.pending_status else request

    async def clip_approved(
        self, request: CameoRequest, clip_id: int, actor_id: int
    ) -> CameoRequest | None:
        """The request's clip was approved in the green room: FULFILLED, pushed to Twitch (kept
        pending and retried when Twitch does not take it). None if it was settled already."""
        try:
            request = await self.store.decide(
                request.id, request.guild_id, "fulfil", actor_id, f"clip #{clip_id} was approved"
            )
        except RequestAlreadyDecided:
            return None
        return await self.push(request)

    async def clip_rejected(
        self, request: CameoRequest, clip_id: int, actor_id: int, reason: str = ""
    ) -> CameoRequest | None:
        """The request's clip was rejected: the request goes back to the cameo queue (accepted,
        no clip). None if it was settled already."""
        why = f"clip #{clip_id} was rejected" + (f": {reason.strip()}" if reason.strip() else "")
        return await self.store.unlink_clip(request, actor_id, why + "; back in the cameo queue")


def refund_line(request: CameoRequest) -> str:
    """How the request stands on Twitch, in words."""
    if request.pending_status:
        what = "refund" if request.pending_status == "CANCELED" else "fulfilment"
        return f"⏳ Twitch {what} pending (will retry): {request.twitch_error or 'not sent yet'}"
    if request.twitch_status == "CANCELED":
        return "↩️ Canceled on Twitch: the points were refunded."
    if request.twitch_status == "FULFILLED":
        return "✅ Marked fulfilled on Twitch."
    if request.twitch_error:
        return f"⚠️ Twitch refused the update: {request.twitch_error}"
    return ""


__all__ = ["EXPIRED_REASON", "CameoQueue", "refund_line"]
