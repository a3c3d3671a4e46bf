"""Pre-flight checks a clip gets before any mod sees it, so reviewers start from the facts.

"fail" means a hard limit is broken (too long for its use, an exact duplicate); "warn" means a
human should look (names of franchises or sponsors in the prompt, low resolution, no audio).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.clips.probe import VideoInfo
from bot.clips.terms import TermMatch, find_terms

CheckStatus = Literal["ok", "warn", "fail"]
_SEVERITY = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Check:
    name: str  # "duration", "resolution", "aspect_ratio", "audio", "copyright", "brand", ...
    status: CheckStatus
    detail: str  # one sentence for the review card

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(name=str(data["name"]), status=data["status"], detail=str(data["detail"]))


@dataclass(frozen=True)
class UseRule:
    """What a clip used in one place on stream should look like."""

    label: str  # "alert": sentences use its plural, "alerts can be at most 15 s"
    max_duration_s: float | None = None
    preferred_aspects: tuple[str, ...] = ()  # empty: any shape is fine
    wants_audio: bool = False


DEFAULT_USE_RULES: Mapping[str, UseRule] = {
    "alert": UseRule("alert", max_duration_s=15, wants_audio=True),
    "intro": UseRule("intro", max_duration_s=60, preferred_aspects=("16:9",), wants_audio=True),
    "outro": UseRule("outro", max_duration_s=60, preferred_aspects=("16:9",), wants_audio=True),
    "transition": UseRule("transition", max_duration_s=5, preferred_aspects=("16:9",)),
    "social": UseRule(
        "social post", max_duration_s=60, preferred_aspects=("9:16",), wants_audio=True
    ),
    "background": UseRule("background loop", max_duration_s=300, preferred_aspects=("16:9",)),
    "other": UseRule("clip"),
}
CLIP_USES: tuple[str, ...] = tuple(DEFAULT_USE_RULES)

DEFAULT_AI_DISCLOSURE = (
    "AI-generated: disclose it where it is shown. YouTube requires its 'altered or synthetic "
    "content' label for realistic AI video; follow Twitch's current rules on AI content."
)


@dataclass(frozen=True)
class PreflightSettings:
    use_rules: Mapping[str, UseRule] = field(default_factory=lambda: dict(DEFAULT_USE_RULES))
    min_short_side: int = 720  # "720p": the short side, so vertical 720x1280 passes too
    ai_disclosure: str = DEFAULT_AI_DISCLOSURE


@dataclass(frozen=True)
class DuplicateMatch:
    """An earlier clip with the same bytes (`exact`) or the same look (small `distance`)."""

    clip_id: int
    status: str
    distance: float
    exact: bool


def run_preflight(
    info: VideoInfo,
    prompt: str,
    *,
    use: str = "other",
    franchise_terms: Iterable[str] = (),
    brand_terms: Iterable[str] = (),
    settings: PreflightSettings | None = None,
    duplicate: DuplicateMatch | None = None,
) -> list[Check]:
    """All checks, always in the same order, each with a status (ok ones included)."""
    settings = settings or PreflightSettings()
    rule = settings.use_rules.get(use) or UseRule(use or "clip")
    return [
        _duration(info, rule),
        _resolution(info, settings.min_short_side),
        _aspect_ratio(info, rule),
        _audio(info, rule),
        _copyright(prompt, franchise_terms),
        _brand(prompt, brand_terms),
        _duplicate(duplicate),
        Check("ai_disclosure", "warn", settings.ai_disclosure),
    ]


def worst_status(checks: Iterable[Check]) -> CheckStatus:
    worst: CheckStatus = "ok"
    for check in checks:
        if _SEVERITY[check.status] > _SEVERITY[worst]:
            worst = check.status
    return worst


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _duration(info: VideoInfo, rule: UseRule) -> Check:
    if info.duration_s <= 0:
        return Check("duration", "warn", "The clip's length could not be read.")
    length = _seconds(info.duration_s)
    if rule.max_duration_s is not None and info.duration_s > rule.max_duration_s + 0.05:
        limit = _seconds(rule.max_duration_s)
        return Check("duration", "fail", f"{length} long; {rule.label}s can be at most {limit}.")
    return Check("duration", "ok", f"{length} long.")


def _resolution(info: VideoInfo, min_short_side: int) -> Check:
    size = f"{info.width}x{info.height}"
    if info.short_side < min_short_side:
        return Check(
            "resolution",
            "warn",
            f"{size} is below {min_short_side}p; it may look soft on stream.",
        )
    return Check("resolution", "ok", f"{size}.")


def _aspect_ratio(info: VideoInfo, rule: UseRule) -> Check:
    if rule.preferred_aspects and info.aspect_ratio not in rule.preferred_aspects:
        wanted = " or ".join(rule.preferred_aspects)
        return Check(
            "aspect_ratio",
            "warn",
            f"{info.aspect_ratio}; {rule.label}s are usually {wanted}.",
        )
    return Check("aspect_ratio", "ok", f"{info.aspect_ratio}.")


def _audio(info: VideoInfo, rule: UseRule) -> Check:
    if info.has_audio:
        return Check("audio", "ok", "Has an audio track.")
    if rule.wants_audio:
        return Check("audio", "warn", f"No audio track; {rule.label}s usually have sound.")
    return Check("audio", "ok", "No audio track.")


def _names(matches: list[TermMatch]) -> str:
    return ", ".join(m.term for m in matches)


def _copyright(prompt: str, franchise_terms: Iterable[str]) -> Check:
    matches = find_terms(prompt, franchise_terms)
    if matches:
        return Check(
            "copyright",
            "warn",
            f"copyright: the prompt names {_names(matches)}; check the clip does not copy "
            "protected characters, logos or scenes.",
        )
    return Check("copyright", "ok", "No well-known franchise or character names in the prompt.")


def _brand(prompt: str, brand_terms: Iterable[str]) -> Check:
    matches = find_terms(prompt, brand_terms)
    if matches:
        return Check("brand", "warn", f"brand: review logo rendering ({_names(matches)}).")
    return Check("brand", "ok", "No sponsor or brand names in the prompt.")


def _duplicate(duplicate: DuplicateMatch | None) -> Check:
    if duplicate is None:
        return Check("duplicate", "ok", "Not a copy of an earlier clip.")
    earlier = f"#{duplicate.clip_id} ({duplicate.status.replace('_', ' ')})"
    if duplicate.exact:
        return Check("duplicate", "fail", f"This exact file was already submitted as {earlier}.")
    return Check(
        "duplicate",
        "warn",
        f"Looks like a re-encoded copy of {earlier}; "
        f"{duplicate.distance:.1f} of 64 bits differ per frame.",
    )
