"""Twitch cameo requests in Discord: the EventSub listener, request cards and their buttons,
retrying Twitch updates and expiring old requests.

One Twitch login (the broadcaster's) serves the bot; each of its rewards is linked to one guild
(`greenroom twitch reward create --guild`), whose `/greenroom setup twitch-requests` channel
gets the cards.
"""

from __future__ import annotations

import asyncio
import logging
import time

import discord
from discord.ext import commands

from bot.clips import ClipNotFound, ClipStatus
from bot.errors import UserFacingError
from bot.exts.twitch._render import (
    request_choice_name,
    request_embed,
    requests_page_embed,
    revocation_notice,
)
from bot.exts.twitch._views import RejectModal, request_view, requests_page_view
from bot.permissions import ensure_mod, member_of
from bot.twitch.cameo import CameoQueue
from bot.twitch.errors import TwitchError
from bot.twitch.eventsub import Notification, RedemptionListener, Revocation
from bot.twitch.helix import REDEMPTION_ADD, HelixClient
from bot.twitch.requests import (
    ACTION_WORDS,
    BOT_ACTOR,
    CameoRequest,
    RequestError,
    RequestStore,
)
from bot.twitch.tokens import TokenStore
from ingest.connectors.base import Secret

log = logging.getLogger(__name__)

DONE = {
    "accept": "Accepted request #{id}: it is in the cameo queue.",
    "hold": "Put request #{id} on hold.",
    "reject": "Rejected request #{id}.",
    "fulfil": "Marked request #{id} fulfilled.",
}
APPROVED = (ClipStatus.APPROVED, ClipStatus.PUBLISHED)
REQUESTS_PAGE = 10


def build_helix(settings) -> HelixClient | None:
    """The Helix client from the settings, or None when no Twitch app is configured."""
    if not settings.twitch_client_id:
        return None
    secret = settings.twitch_client_secret
    return HelixClient(
        settings.twitch_client_id,
        Secret(secret.get_secret_value()) if secret and secret.get_secret_value() else None,
        TokenStore(settings.twitch_tokens_path),
        api_url=settings.twitch_api_url,
        auth_url=settings.twitch_auth_url,
    )


class TwitchCog(commands.Cog):
    def __init__(self, bot) -> None:
        self.bot = bot
        self.services = bot.services
        self.settings = bot.services.settings
        self.helix = build_helix(self.settings)
        self.store: RequestStore | None = None
        self.queue: CameoQueue | None = None
        self.eventsub: RedemptionListener | None = None
        self.revoked: list[Revocation] = []
        self._card_lock = asyncio.Lock()  # one card per request, even when events race

    async def cog_load(self) -> None:
        self.store = await RequestStore.open(self.services.db)
        self.queue = CameoQueue(self.store, self.helix)
        self.bot.spawn(self._start(), name="twitch-start")

    # --- running ----------------------------------------------------------------------------

    async def _start(self) -> None:
        """After the bot is ready: listen on EventSub (when Twitch is linked) and keep the
        maintenance loop going."""
        await self.bot.wait_until_ready()
        self.bot.spawn(self._maintenance(), name="twitch-maintenance")
        try:
            logged_in = self.helix is not None and self.helix.tokens.load() is not None
        except ValueError as exc:  # a damaged token file: say so, keep the rest running
            log.error("Twitch cameo requests are off: %s", exc)
            return
        if logged_in and await self.store.rewards():
            self.eventsub = RedemptionListener(
                self.helix,
                self.settings.twitch_eventsub_url,
                rewards=self._rewards,
                on_notification=self._on_notification,
                on_revocation=self._on_revocation,
                on_session=self._on_session,
            )
            self.bot.spawn(self.eventsub.run(), name="twitch-eventsub")
        elif self.helix is None:
            log.info("Twitch is not configured (GREENROOM_TWITCH_CLIENT_ID); no cameo requests")

    async def _maintenance(self) -> None:
        while True:
            await asyncio.sleep(self.settings.twitch_retry_seconds)
            try:
                await self.maintain()
            except Exception:
                log.exception("Twitch request maintenance failed; trying again later")

    async def maintain(self, now: float | None = None) -> None:
        """Retry Twitch updates, expire undecided requests, post cards that could not be."""
        for request in await self.queue.push_pending():
            await self.refresh_card(request)
        now = time.time() if now is None else now
        cutoff = now - self.settings.twitch_request_expiry_hours * 3600
        for request in await self.queue.expire(cutoff):
            await self.refresh_card(request)
        # A clip decided while settling its request failed (or the bot stopped in between).
        for clip_id, guild_id in {(r.clip_id, r.guild_id) for r in await self.store.linked()}:
            await self.settle_clip(guild_id, clip_id, BOT_ACTOR)
        if self.eventsub is not None:
            # Also what a listing cut short by Twitch missed (see HelixClient.redemptions), and
            # what came while EventSub was reconnecting.
            await self.catch_up()
        else:
            await self.post_missing_cards()

    async def _rewards(self) -> list[tuple[str, str]]:
        return [(r.broadcaster_id, r.reward_id) for r in await self.store.rewards()]

    async def _on_session(self, session_id: str) -> None:
        """A new EventSub session is subscribed: record it, and list what came meanwhile."""
        await self.store.set_eventsub_status(
            [reward_id for _, reward_id in await self._rewards()], "enabled"
        )
        await self.catch_up()

    async def catch_up(self) -> None:
        """Redemptions still UNFULFILLED on Twitch that have no request yet get one and a card.
        Subscribed first, then listed: a redemption in between is in one or the other (or both,
        and recorded once)."""
        try:
            found = await self.queue.catch_up()
        except TwitchError as exc:
            log.warning("could not list the redemptions on Twitch (next round retries): %s", exc)
            found = []
        for request in found:
            await self.post_card(request)
        await self.post_missing_cards()  # e.g. the channel was set up after they came

    async def _on_notification(self, notification: Notification) -> None:
        if notification.subscription_type != REDEMPTION_ADD:
            return
        request = await self.queue.record(notification.redemption)
        if request is not None:
            await self.post_card(request)

    async def _on_revocation(self, revocation: Revocation) -> None:
        """Twitch ended a subscription: recorded (`greenroom twitch status` shows it), logged,
        and said in the requests channel of the reward's server."""
        self.revoked.append(revocation)
        reward_id = revocation.condition.get("reward_id", "")
        log.warning(
            "Twitch stopped sending redemptions of reward %s (%s): run `greenroom twitch login`"
            " and restart the bot",
            reward_id,
            revocation.status,
        )
        await self.store.set_eventsub_status([reward_id], f"revoked: {revocation.status}")
        for reward in await self.store.rewards():
            if reward.reward_id == reward_id:
                await self._notice(reward.guild_id, revocation_notice(reward.title, revocation))

    # --- cards ------------------------------------------------------------------------------

    async def _notice(self, guild_id: int, text: str) -> None:
        """A line for the mods in the server's requests channel (when it has one)."""
        config = await self.services.guild_configs.get(guild_id)
        channel = (
            self.bot.get_channel(config.twitch_requests_channel)
            if config.twitch_requests_channel
            else None
        )
        if channel is None:
            return
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.warning("could not post a Twitch notice in server %s", guild_id, exc_info=True)

    async def post_card(self, request: CameoRequest) -> None:
        async with self._card_lock:
            current = await self.store.get(request.id)
            if current is None or current.card_message_id is not None:
                return
            config = await self.services.guild_configs.get(current.guild_id)
            channel = (
                self.bot.get_channel(config.twitch_requests_channel)
                if config.twitch_requests_channel
                else None
            )
            if channel is None:
                log.info("request #%d waits for a twitch-requests channel", current.id)
                return
            message = await channel.send(
                embed=request_embed(current),
                view=request_view(current),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            await self.store.set_card(current.id, channel.id, message.id)

    async def post_missing_cards(self) -> None:
        for request in await self.store.without_card():
            try:
                await self.post_card(request)
            except discord.HTTPException:
                log.warning("could not post the card of request #%d", request.id, exc_info=True)

    async def refresh_card(self, request: CameoRequest) -> None:
        if request.card_message_id is None or request.card_channel_id is None:
            return
        channel = self.bot.get_channel(request.card_channel_id)
        if channel is None:
            return
        try:
            await channel.get_partial_message(request.card_message_id).edit(
                embed=request_embed(request), view=request_view(request)
            )
        except discord.HTTPException:
            log.warning("could not update the card of request #%d", request.id, exc_info=True)

    # --- the clip that fulfils a request ----------------------------------------------------

    async def request_choices(self, guild_id: int, text: str) -> list[tuple[str, int]]:
        """Autocomplete for `/clip submit request:`: this guild's accepted requests that wait
        for a clip, matching the typed text (number, viewer or their words)."""
        text = text.strip().lstrip("#").casefold()
        found = []
        for request in await self.store.open_for_clip(guild_id):
            words = f"{request.id} {request.user_name} {request.user_login} {request.user_input}"
            if not text or text in words.casefold():
                found.append((request_choice_name(request), request.id))
        return found[:25]

    async def check_linkable(self, guild_id: int, request_id: int) -> None:
        """Refuse `request:` before the clip is downloaded, when it could not be linked."""
        request = await self.store.get(request_id, guild_id)
        if request is None or request.state != "accepted" or request.clip_id is not None:
            raise UserFacingError(self.store.unlinkable(request, request_id) + " Nothing was sent.")

    async def link_clip(self, guild_id: int, request_id: int, clip_id: int, actor_id: int) -> str:
        """Link the submitted clip to the request; the line for the submitter."""
        try:
            request = await self.store.link_clip(request_id, guild_id, clip_id, actor_id)
        except RequestError as exc:
            return f"The clip was sent, but not linked to the request: {exc}"
        await self.refresh_card(request)
        log.info("request #%d: clip #%d submitted for it", request.id, clip_id)
        return (
            f"Linked to cameo request #{request.id}: when the clip is approved, the request is"
            " fulfilled on Twitch."
        )

    async def clip_resubmitted(self, guild_id: int, clip_id: int, actor_id: int) -> list[str]:
        """`/clip resubmit` made `clip_id`: requests its rejected version had put back in the
        queue are linked to it again; lines for the creator."""
        try:
            versions = await self.services.clips.versions(clip_id, guild_id)
        except ClipNotFound:
            return []
        family = tuple(v.id for v in versions if v.id != clip_id)
        lines = []
        for request in await self.store.relink(guild_id, family, clip_id, actor_id):
            await self.refresh_card(request)
            log.info("request #%d: clip #%d resubmitted for it", request.id, clip_id)
            lines.append(
                f"Still linked to cameo request #{request.id}: when this version is approved,"
                " the request is fulfilled on Twitch."
            )
        return lines

    async def settle_clip(
        self, guild_id: int, clip_id: int, actor_id: int, reason: str = ""
    ) -> list[CameoRequest]:
        """After a review act on a clip: the requests linked to it (or to another version of
        it) are fulfilled when its newest version is approved, back in the queue when it is
        rejected, left as they are otherwise. The requests that changed."""
        try:
            versions = await self.services.clips.versions(clip_id, guild_id)
        except ClipNotFound:
            return []
        newest = versions[-1]
        changed = []
        for request in await self.store.linked(guild_id, tuple(v.id for v in versions)):
            if newest.status in APPROVED:
                after = await self.queue.clip_approved(request, newest.id, actor_id)
            elif newest.status == ClipStatus.REJECTED:
                after = await self.queue.clip_rejected(request, newest.id, actor_id, reason)
            else:
                continue
            if after is not None:
                await self.refresh_card(after)
                changed.append(after)
        return changed

    async def clip_decided(self, guild_id: int, clip_id: int, actor_id: int, reason: str):
        """Called by the green room after each review act; lines for the reviewer."""
        lines = []
        for request in await self.settle_clip(guild_id, clip_id, actor_id, reason):
            if request.state == "fulfilled":
                line = f"Cameo request #{request.id} is fulfilled"
                line += (
                    "; Twitch did not take it yet, I'll keep trying."
                    if request.pending_status
                    else " on Twitch."
                )
            else:
                line = f"Cameo request #{request.id} is back in the cameo queue."
            lines.append(line)
        return lines

    # --- /review requests -------------------------------------------------------------------

    async def requests_page(
        self, interaction: discord.Interaction, offset: int, *, edit: bool = False
    ) -> None:
        await self._ensure_mod(interaction)
        requests = await self.store.list(interaction.guild_id)
        embed = requests_page_embed(
            requests[offset : offset + REQUESTS_PAGE], offset, len(requests)
        )
        view = requests_page_view(offset, REQUESTS_PAGE, len(requests))
        if edit:
            await interaction.response.edit_message(embed=embed, view=view)
        else:
            await interaction.response.send_message(
                embed=embed,
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
                **({"view": view} if view else {}),
            )

    # --- buttons and modals -----------------------------------------------------------------

    async def _ensure_mod(self, interaction: discord.Interaction) -> discord.Member:
        member = member_of(interaction)
        config = await self.services.guild_configs.get(interaction.guild_id)
        ensure_mod(member, config, "decide cameo requests")
        return member

    async def card_button(
        self, interaction: discord.Interaction, action: str, request_id: int
    ) -> None:
        await self._ensure_mod(interaction)
        if action == "reject":
            request = await self.store.get(request_id, interaction.guild_id)
            if request is None:
                raise UserFacingError(f"There is no request #{request_id} in this server.")
            await interaction.response.send_modal(RejectModal(request_id))
            return
        await self.decide(interaction, action, request_id)

    async def decide(
        self, interaction: discord.Interaction, action: str, request_id: int, *, reason: str = ""
    ) -> None:
        member = await self._ensure_mod(interaction)
        if action == "reject" and not reason.strip():
            raise UserFacingError("Rejecting a request needs a reason. Nothing was changed.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        # A RequestError (one is RequestAlreadyDecided) is a UserFacingError: the tree replies.
        request = await self.queue.decide(
            request_id, interaction.guild_id, action, member.id, reason.strip()
        )
        await self.refresh_card(request)
        text = DONE[action].format(id=request.id)
        if request.pending_status:
            text += " Twitch did not take the update yet; I'll keep trying."
        elif action == "reject" and request.twitch_status == "CANCELED":
            text += " The viewer's points were refunded."
        elif request.twitch_error:
            text += f" Twitch refused the update: {request.twitch_error}"
        await interaction.followup.send(text, ephemeral=True)
        log.info("request #%d %s by %s", request.id, ACTION_WORDS[action], member.id)
