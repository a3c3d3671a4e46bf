"""How clips look in Discord: the review card, the queue, audit trails and stats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import discord

from bot.clips import AuditEntry, Checklist, Clip, ClipStats, ClipStatus, VideoInfo, worst_status
from bot.clips.models import CHECKLIST_LABELS
from bot.clips.states import OPEN_STATUSES, STATES, ReviewAction, action_label, status_label
from bot.exts.clips._options import use_label
from bot.render import shorten

S = ClipStatus
CHECK_ICONS = {"ok": "✅", "warn": "⚠️", "fail": "❌"}


def status_colour(status: ClipStatus) -> discord.Colour:
    return getattr(discord.Colour, STATES[status].colour)()


@dataclass(frozen=True)
class CardState:
    """Everything the review card shows, read from the queue in one go."""

    clip: Clip
    approvers: tuple[int, ...]  # the current round's approvals
    approvals_required: int
    entry: AuditEntry | None  # what brought the clip into its current state
    checklist: Checklist | None  # the reviewers' answers in the current round
    file_note: str | None  # set when the file is not attached to the card


def fenced(text: str, limit: int) -> str:
    body = shorten(text.strip(), limit).replace("```", "`\u200b``")
    return f"```\n{body}\n```"


def mentions(user_ids: Sequence[int]) -> str:
    return ", ".join(f"<@{uid}>" for uid in user_ids)


def status_line(state: CardState) -> str:
    clip, entry = state.clip, state.entry
    icon = STATES[clip.status].icon
    by = f" by <@{entry.actor_id}>" if entry else ""
    reason = f": {shorten(entry.reason, 300)}" if entry and entry.reason else ""
    needed = state.approvals_required
    if clip.status in OPEN_STATUSES:
        line = f"{icon} {status_label(clip.status).capitalize()}"
        if needed > 1 or state.approvers:
            line += f" · {len(state.approvers)} of {needed} approvals"
            if state.approvers:
                line += f" ({mentions(state.approvers)})"
        if entry and entry.action == ReviewAction.REOPEN:
            line += f"\nReopened by <@{entry.actor_id}>{reason}"
        return line
    if clip.status == S.APPROVED:
        who = mentions(state.approvers) or by.removeprefix(" by ")
        note = f"\nNote: {shorten(entry.reason, 300)}" if entry and entry.reason else ""
        return f"{icon} Approved by {who}{note}"
    if clip.status == S.REJECTED and entry and entry.action == ReviewAction.VETO:
        return f"{icon} Vetoed by the streamer <@{entry.actor_id}>{reason}"
    if clip.status == S.SUPERSEDED:
        return f"{icon} Replaced by a newer version{f' ({entry.reason})' if entry else ''}"
    return f"{icon} {status_label(clip.status).capitalize()}{by}{reason}"


def video_line(video: VideoInfo) -> str:
    audio = "audio" if video.has_audio else "no audio"
    return (
        f"{video.duration_s:.1f} s · {video.width}x{video.height} · {video.aspect_ratio} · "
        f"{video.codec} · {video.fps:g} fps · {audio}"
    )


def checks_text(clip: Clip) -> str:
    lines = []
    for check in clip.preflight:
        detail = check.detail.removeprefix(f"{check.name}: ")  # "copyright: the prompt names"
        name = check.name.replace("_", " ")
        lines.append(f"{CHECK_ICONS[check.status]} **{name}**: {shorten(detail, 220)}")
    return "\n".join(lines) or "No checks were run."


def checklist_text(checklist: Checklist | None) -> str:
    answers = checklist.to_dict() if checklist else {}
    marks = {True: "✅", False: "❌", None: "☐"}
    return " · ".join(
        f"{marks[answers.get(name)]} {label}" for name, label in CHECKLIST_LABELS.items()
    )


def card_embed(state: CardState) -> discord.Embed:
    clip = state.clip
    colour = status_colour(clip.status)
    version = f" · version {clip.version}" if clip.version > 1 else ""
    parts = ["**Prompt**", fenced(clip.prompt or "(none given)", 1500)]
    if clip.notes.strip():
        parts += ["**Notes**", shorten(clip.notes.strip(), 500)]
    worst = CHECK_ICONS[worst_status(clip.preflight)]
    parts += [f"**Pre-flight checks** {worst}", checks_text(clip)]
    embed = discord.Embed(
        title=shorten(f"Clip #{clip.id}: {' '.join(clip.title.split())}{version}", 256),
        description=shorten("\n".join(parts), 4000),
        colour=colour,
        timestamp=datetime.fromtimestamp(clip.created_at, UTC),
    )
    embed.add_field(name="Status", value=shorten(status_line(state), 1024), inline=False)
    embed.add_field(name="Tool", value=clip.tool or "not given")
    embed.add_field(name="Use", value=use_label(clip.use))
    embed.add_field(name="Submitted by", value=f"<@{clip.submitter_id}>")
    if clip.video is not None:
        embed.add_field(name="Video", value=video_line(clip.video), inline=False)
    embed.add_field(name="Reviewer checklist", value=checklist_text(state.checklist), inline=False)
    if state.file_note:
        embed.add_field(name="File", value=shorten(state.file_note, 1024), inline=False)
    footer = f"Clip #{clip.id}"
    if clip.sha256:
        footer += f" · sha256 {clip.sha256[:12]}"
    if clip.secret:
        footer += " · 🔒 recipe kept secret"
    embed.set_footer(text=footer)
    return embed


def card_link(clip: Clip) -> str:
    if clip.card_channel_id and clip.card_message_id:
        return (
            f"https://discord.com/channels/{clip.guild_id}/{clip.card_channel_id}/"
            f"{clip.card_message_id}"
        )
    return ""


def clip_line(clip: Clip, *, with_submitter: bool = True) -> str:
    icon = STATES[clip.status].icon
    title = discord.utils.escape_markdown(shorten(" ".join(clip.title.split()), 60))
    bits = [f"{icon} **#{clip.id}** {title}"]
    if clip.version > 1:
        bits.append(f"v{clip.version}")
    bits += [status_label(clip.status), clip.tool or "no tool", use_label(clip.use)]
    if with_submitter:
        bits.append(f"<@{clip.submitter_id}>")
    bits.append(f"<t:{int(clip.created_at)}:R>")
    link = card_link(clip)
    line = " · ".join(bits)
    return f"{line} · [card]({link})" if link else line


def queue_embed(clips: Sequence[Clip], *, offset: int, filters: str) -> discord.Embed:
    embed = discord.Embed(title="Clip review queue", colour=discord.Colour.blurple())
    if clips:
        embed.description = shorten("\n".join(clip_line(clip) for clip in clips), 4000)
        embed.set_footer(text=f"{filters} · clips {offset + 1}–{offset + len(clips)}")
    else:
        embed.description = "Nothing here. 🎉" if offset == 0 else "No more clips."
        embed.set_footer(text=filters)
    return embed


def audit_line(entry: AuditEntry, *, with_clip: bool = True) -> str:
    what = action_label(entry.action)
    moved = ""
    if entry.from_state != entry.to_state:
        start = status_label(entry.from_state) if entry.from_state else "new"
        moved = f" ({start} → {status_label(entry.to_state)})"
    clip = f"**#{entry.clip_id}** " if with_clip else ""
    reason = f": {shorten(entry.reason, 200)}" if entry.reason else ""
    return f"<t:{int(entry.at)}:f> {clip}<@{entry.actor_id}> {what}{moved}{reason}"


def lines_embed(title: str, lines: Sequence[str], empty: str) -> discord.Embed:
    """Lines in one embed, keeping the newest (last) ones when they don't all fit."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) + 1 > 3900:
            kept.append(f"… and {len(lines) - len(kept)} earlier entries")
            break
        kept.append(line)
        size += len(line) + 1
    embed = discord.Embed(title=shorten(title, 256), colour=discord.Colour.blurple())
    embed.description = "\n".join(reversed(kept)) or empty
    return embed


def stats_embed(stats: ClipStats) -> discord.Embed:
    embed = discord.Embed(title="Clip review stats", colour=discord.Colour.blurple())
    counts = [
        f"{status_label(status)}: {stats.by_status[status.value]}"
        for status in ClipStatus
        if stats.by_status.get(status.value)
    ]
    embed.add_field(name="Clips", value="\n".join(counts) or "None yet.", inline=False)
    median = stats.median_decision_s
    embed.add_field(
        name="Median time to a first decision",
        value=_duration(median) if median is not None else "No decisions yet.",
        inline=False,
    )
    by_mod = [
        f"<@{mod}>: "
        + ", ".join(f"{n} {action_label(action)}" for action, n in sorted(acts.items()))
        for mod, acts in sorted(stats.decisions_by_mod.items())
    ]
    embed.add_field(
        name="Decisions by reviewer",
        value=shorten("\n".join(by_mod), 1024) or "None yet.",
        inline=False,
    )
    return embed


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
