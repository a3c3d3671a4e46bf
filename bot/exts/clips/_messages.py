"""What the submitter and the reviewer are told after a review act (no discord import)."""

from __future__ import annotations

from bot.clips import Clip, ReviewAction
from bot.render import shorten

A = ReviewAction

_TOLD = {
    A.APPROVE: "🎉 Your clip #{id} “{title}” was approved in **{guild}**.",
    A.REJECT: "Your clip #{id} “{title}” was rejected in **{guild}** by {actor}.",
    A.VETO: "Your clip #{id} “{title}” was vetoed by the streamer in **{guild}**.",
    A.REQUEST_CHANGES: "The mods in **{guild}** asked for changes to your clip #{id} “{title}”.",
    A.HOLD: "Your clip #{id} “{title}” was put on hold in **{guild}** by {actor}.",
    A.REOPEN: "Your clip #{id} “{title}” was reopened for review in **{guild}** by {actor}.",
    A.PUBLISH: "📺 Your clip #{id} “{title}” was marked as used on stream in **{guild}**.",
}
_NEXT_STEP = {
    A.REJECT: "You can send a new version with `/clip resubmit clip:{id}`.",
    A.REQUEST_CHANGES: "Send the new version with `/clip resubmit clip:{id}`.",
}
_DONE = {
    A.APPROVE: "Approved clip #{id}.",
    A.REJECT: "Rejected clip #{id}.",
    A.VETO: "Vetoed clip #{id}.",
    A.REQUEST_CHANGES: "Sent clip #{id} back for changes.",
    A.HOLD: "Put clip #{id} on hold.",
    A.REOPEN: "Reopened clip #{id} for review.",
    A.PUBLISH: "Marked clip #{id} published.",
}


def done_text(action: ReviewAction, clip_id: int) -> str:
    """The reviewer's confirmation of a decision."""
    return _DONE[action].format(id=clip_id)


def told_text(clip: Clip, action: ReviewAction, guild_name: str, actor_id: int, reason: str) -> str:
    """The submitter's message about a decision, with the reason and the next step."""
    told = _TOLD[action].format(
        id=clip.id,
        title=shorten(" ".join(clip.title.split()), 80),
        guild=guild_name,
        actor=f"<@{actor_id}>",
    )
    if reason.strip():
        label = "Note" if action == A.APPROVE else "Reason"
        told += f"\n{label}: {shorten(reason.strip(), 1000)}"
    if step := _NEXT_STEP.get(action):
        told += "\n" + step.format(id=clip.id)
    return told
