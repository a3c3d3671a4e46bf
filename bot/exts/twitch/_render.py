"""The request card: what a viewer asked for on Twitch, and where the request stands.

Everything from Twitch is untrusted text: mentions are broken, markdown is escaped and each
field is capped, so a viewer's `@everyone` or `[link](...)` shows as typed and pings no one.
"""

from __future__ import annotations

import discord

from bot.render import shorten
from bot.twitch.cameo import refund_line
from bot.twitch.requests import CameoRequest, RequestState

S = RequestState
TEXT_LIMIT = 500
NAME_LIMIT = 60

LOOKS: dict[RequestState, tuple[str, discord.Colour]] = {
    S.OPEN: ("🟣 New request", discord.Colour.purple()),
    S.HELD: ("⏸️ On hold", discord.Colour.light_grey()),
    S.ACCEPTED: ("🎬 Accepted: in the cameo queue", discord.Colour.green()),
    S.REJECTED: ("❌ Rejected", discord.Colour.red()),
    S.FULFILLED: ("✅ Fulfilled", discord.Colour.dark_green()),
    S.EXPIRED: ("⌛ Expired", discord.Colour.dark_grey()),
}


def untrusted(text: str, limit: int) -> str:
    """Twitch text made inert for Discord: one line per line, capped, no markdown, no pings."""
    text = text.strip()
    text = discord.utils.escape_markdown(shorten(text, limit))
    return discord.utils.escape_mentions(text).replace("<", "<\u200b")


def request_embed(request: CameoRequest) -> discord.Embed:
    heading, colour = LOOKS[request.state]
    viewer = untrusted(request.user_name or request.user_login, NAME_LIMIT)
    embed = discord.Embed(
        title=f"Cameo request #{request.id}: {untrusted(request.reward_title, 100)}",
        description=untrusted(request.user_input, TEXT_LIMIT) or "*(no text)*",
        colour=colour,
    )
    embed.add_field(name="Viewer", value=f"{viewer} on Twitch", inline=True)
    embed.add_field(name="Redeemed", value=_when(request.redeemed_at), inline=True)
    embed.add_field(name="State", value=heading, inline=False)
    if request.decided_by:
        who = f"<@{request.decided_by}>"
        embed.add_field(name="Decided by", value=who, inline=True)
    if request.clip_id:
        clip = f"Clip #{request.clip_id}"
        clip += " was approved" if request.state == S.FULFILLED else " is in the green room"
        embed.add_field(name="Clip", value=clip, inline=False)
    if request.reason:
        embed.add_field(name="Reason", value=discord.utils.escape_mentions(request.reason[:1000]))
    twitch = refund_line(request)
    if twitch:
        embed.add_field(name="Twitch", value=untrusted(twitch, 1000), inline=False)
    embed.set_footer(text=f"redemption {request.redemption_id}")
    return embed


def request_choice_name(request: CameoRequest) -> str:
    """An autocomplete choice (plain text: Discord shows choice names as typed)."""
    viewer = " ".join((request.user_name or request.user_login).split())[:NAME_LIMIT]
    text = " ".join(request.user_input.split()) or "(no text)"
    name = f"#{request.id} · {viewer}: {text}"
    return shorten(name, 100)


def request_line(request: CameoRequest) -> str:
    """One line of `/review requests`: the Twitch text inert, the card linked."""
    icon = LOOKS[request.state][0].split(" ", 1)[0]
    viewer = untrusted(request.user_name or request.user_login, NAME_LIMIT)
    text = untrusted(" ".join(request.user_input.split()), 120) or "*(no text)*"
    line = f"{icon} **#{request.id}** {request.state.value} · {viewer}: {text}"
    if request.clip_id:
        line += f" · clip #{request.clip_id}"
    if request.card_channel_id and request.card_message_id:
        line += (
            f" · [card](https://discord.com/channels/{request.guild_id}/"
            f"{request.card_channel_id}/{request.card_message_id})"
        )
    return line


def requests_page_embed(requests: list[CameoRequest], offset: int, total: int) -> discord.Embed:
    """A page of the open, held and accepted requests, oldest first."""
    lines = [request_line(r) for r in requests]
    description = "\n".join(lines) or "No open or accepted cameo requests."
    embed = discord.Embed(
        title="Cameo requests", description=description[:4096], colour=discord.Colour.purple()
    )
    if total:
        embed.set_footer(text=f"{offset + 1}-{offset + len(requests)} of {total}")
    return embed


def _when(redeemed_at: str) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(redeemed_at.replace("Z", "+00:00"))
    except ValueError:
        return untrusted(redeemed_at, 40) or "unknown"
    return discord.utils.format_dt(moment, "f")


def revocation_notice(reward_title: str, revocation) -> str:
    """What the mods read when Twitch stops sending a reward's redemptions."""
    return (
        f"⚠️ Twitch stopped sending redemptions of “{untrusted(reward_title, 100)}”"
        f" ({revocation.status or 'revoked'}). New redemptions get no card until the"
        " broadcaster runs `greenroom twitch login` again and the bot is restarted."
    )
