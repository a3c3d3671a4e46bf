"""The values the review queue takes and returns; plain frozen dataclasses, no database handles."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.clips.preflight import Check
from bot.clips.probe import VideoInfo
from bot.clips.states import ClipStatus

CHECKLIST_LABELS = {
    "quality": "quality",
    "brand_safety": "brand safety",
    "copyright": "copyright",
    "likeness_consent": "likeness and consent",
    "ai_disclosure": "AI disclosure",
}


@dataclass(frozen=True)
class Checklist:
    """A reviewer's answers: True passes, False fails, None means not looked at."""

    quality: bool | None = None
    brand_safety: bool | None = None
    copyright: bool | None = None
    likeness_consent: bool | None = None
    ai_disclosure: bool | None = None

    def failed(self) -> list[str]:
        return [label for name, label in CHECKLIST_LABELS.items() if getattr(self, name) is False]

    def to_dict(self) -> dict[str, bool | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Checklist:
        data = data or {}
        return cls(**{name: data.get(name) for name in CHECKLIST_LABELS})


@dataclass(frozen=True)
class ReviewPolicy:
    """A guild's rules: how many distinct mods must approve, and whether the streamer can veto."""

    approvals_required: int = 1
    streamer_role_can_veto: bool = False

    def __post_init__(self) -> None:
        if self.approvals_required < 1:
            raise ValueError("approvals_required must be at least 1")


@dataclass(frozen=True)
class ClipDraft:
    """What a submitter provides; a resubmission is a new draft (see `Clip.to_draft`)."""

    title: str
    prompt: str = ""
    tool: str = ""
    use: str = "other"
    notes: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)  # generator settings, JSON-able
    sha256: str | None = None
    file_ext: str | None = None  # ".mp4"
    source_url: str | None = None
    fingerprint: Sequence[int] = ()  # from fingerprint_video
    video: VideoInfo | None = None
    preflight: Sequence[Check] = ()  # from run_preflight
    secret: bool = False  # the streamer keeps the recipe (prompt and settings) private


@dataclass(frozen=True)
class Clip:
    id: int
    guild_id: int
    submitter_id: int
    version: int
    parent_id: int | None  # the first version's id, for versions 2+
    status: ClipStatus
    review_round: int  # goes up on each reopen; approvals count within one round
    title: str
    prompt: str
    tool: str
    use: str
    notes: str
    settings: Mapping[str, Any]
    sha256: str | None
    file_ext: str | None
    source_url: str | None
    fingerprint: tuple[int, ...]
    video: VideoInfo | None
    preflight: tuple[Check, ...]
    secret: bool
    card_channel_id: int | None
    card_message_id: int | None
    thread_id: int | None
    created_at: float  # unix seconds
    updated_at: float

    @property
    def root_id(self) -> int:
        """The first version's id: what all versions of this clip share."""
        return self.parent_id or self.id

    @property
    def label(self) -> str:
        return f"#{self.id}"

    def to_draft(self, **changes: Any) -> ClipDraft:
        """This clip's content as a draft, e.g. for a resubmission that only swaps the file."""
        draft = ClipDraft(
            title=self.title,
            prompt=self.prompt,
            tool=self.tool,
            use=self.use,
            notes=self.notes,
            settings=dict(self.settings),
            sha256=self.sha256,
            file_ext=self.file_ext,
            source_url=self.source_url,
            fingerprint=self.fingerprint,
            video=self.video,
            preflight=self.preflight,
            secret=self.secret,
        )
        return dataclasses.replace(draft, **changes)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    clip_id: int
    guild_id: int
    actor_id: int
    action: str  # a ReviewAction value
    from_state: ClipStatus | None
    to_state: ClipStatus
    reason: str
    checklist: Checklist | None
    at: float


@dataclass(frozen=True)
class Decision:
    id: int
    clip_id: int
    guild_id: int
    actor_id: int
    action: str  # approve, reject, veto, request_changes, hold
    reason: str
    checklist: Checklist
    review_round: int
    at: float


@dataclass(frozen=True)
class DecisionOutcome:
    clip: Clip  # after the decision
    action: str
    approvals: tuple[int, ...]  # mods who approved in the current round
    approvals_required: int

    @property
    def approvals_missing(self) -> int:
        return max(0, self.approvals_required - len(self.approvals))


@dataclass(frozen=True)
class ClipStats:
    by_status: dict[str, int]
    median_decision_s: float | None  # submission to first decision, over decided clips
    decisions_by_mod: dict[int, dict[str, int]]  # mod id -> action -> count
