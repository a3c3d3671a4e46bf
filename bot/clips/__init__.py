"""The clip green room's domain layer: fetch, store, inspect and review AI clips.

No discord import here: the cog renders these values and forwards button clicks to
`ReviewQueue`. Media functions (probe, fingerprint, ClipStore) block: run them in a thread.
"""

from bot.clips.containers import sniff_container
from bot.clips.download import DownloadedClip, download_clip
from bot.clips.errors import (
    AlreadyDecided,
    BlockedHost,
    ChecklistContradiction,
    ClipError,
    ClipNotFound,
    ClipTooLarge,
    DownloadConnectionError,
    DownloadError,
    DownloadHTTPError,
    DownloadTimeout,
    DuplicateApproval,
    IllegalTransition,
    InvalidClipURL,
    InvalidDraft,
    InvalidTerm,
    NotAVideo,
    NotSubmitter,
    NoVideoTrack,
    ReasonRequired,
    ReviewError,
    SelfApproval,
    TooManyRedirects,
    UnreadableVideo,
)
from bot.clips.export import ExportedClip, ExportManifest, export_clips
from bot.clips.files import ClipStore, StoredClip
from bot.clips.fingerprint import (
    NEAR_DUPLICATE_THRESHOLD,
    fingerprint_distance,
    fingerprint_video,
    is_near_duplicate,
)
from bot.clips.guild_terms import FranchiseOverrides, GuildTermStore
from bot.clips.models import (
    AuditEntry,
    Checklist,
    Clip,
    ClipDraft,
    ClipStats,
    Decision,
    DecisionOutcome,
    ReviewPolicy,
)
from bot.clips.preflight import (
    CLIP_USES,
    DEFAULT_USE_RULES,
    Check,
    DuplicateMatch,
    PreflightSettings,
    UseRule,
    run_preflight,
    worst_status,
)
from bot.clips.probe import VideoInfo, probe_video
from bot.clips.recipe import recipe_document_text
from bot.clips.review import ReviewQueue
from bot.clips.states import ClipStatus, ReviewAction
from bot.clips.terms import DEFAULT_FRANCHISE_TERMS, find_terms

__all__ = [
    "CLIP_USES",
    "DEFAULT_FRANCHISE_TERMS",
    "DEFAULT_USE_RULES",
    "NEAR_DUPLICATE_THRESHOLD",
    "AlreadyDecided",
    "AuditEntry",
    "BlockedHost",
    "Check",
    "Checklist",
    "ChecklistContradiction",
    "Clip",
    "ClipDraft",
    "ClipError",
    "ClipNotFound",
    "ClipStats",
    "ClipStatus",
    "ClipStore",
    "ClipTooLarge",
    "Decision",
    "DecisionOutcome",
    "DownloadConnectionError",
    "DownloadError",
    "DownloadHTTPError",
    "DownloadTimeout",
    "DownloadedClip",
    "DuplicateApproval",
    "DuplicateMatch",
    "ExportManifest",
    "ExportedClip",
    "FranchiseOverrides",
    "GuildTermStore",
    "IllegalTransition",
    "InvalidClipURL",
    "InvalidDraft",
    "InvalidTerm",
    "NoVideoTrack",
    "NotAVideo",
    "NotSubmitter",
    "PreflightSettings",
    "ReasonRequired",
    "ReviewAction",
    "ReviewError",
    "ReviewPolicy",
    "ReviewQueue",
    "SelfApproval",
    "StoredClip",
    "TooManyRedirects",
    "UnreadableVideo",
    "UseRule",
    "VideoInfo",
    "download_clip",
    "export_clips",
    "find_terms",
    "fingerprint_distance",
    "fingerprint_video",
    "is_near_duplicate",
    "probe_video",
    "recipe_document_text",
    "run_preflight",
    "sniff_container",
    "worst_status",
]
