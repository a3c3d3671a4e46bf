"""Getting a clip in: download it into the clip store, read it, run the pre-flight checks.

No discord import: the cogs pass links and declared sizes and render what comes back. Reading
and fingerprinting video and moving files block, so they run in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.clips import (
    Check,
    ClipTooLarge,
    DownloadedClip,
    NotAVideo,
    VideoInfo,
    download_clip,
    fingerprint_video,
    probe_video,
    run_preflight,
)
from bot.services import Services


@dataclass(frozen=True)
class FetchedClip:
    """A clip file in the store, read and fingerprinted."""

    sha256: str
    extension: str
    size_bytes: int
    path: Path
    already_stored: bool  # these exact bytes were in the store before (the same file again)
    video: VideoInfo
    fingerprint: list[int]


class ClipIntake:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def max_bytes(self) -> int:
        return self.services.settings.max_clip_mb * 1024 * 1024

    def check_declared(self, size_bytes: int | None, content_type: str | None) -> None:
        """Refuse an attachment at once by what Discord says about it, before any download."""
        if size_bytes is not None and size_bytes > self.max_bytes:
            raise ClipTooLarge(self.max_bytes, size_bytes)
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind and not kind.startswith("video/") and kind != "application/octet-stream":
            error = NotAVideo(kind)
            error.message = f"That file is not a video (it is {kind}). Nothing was sent."
            raise error

    async def fetch(self, url: str) -> FetchedClip:
        """Download, read and store the clip; a `ClipError` says what was wrong with it."""
        settings = self.services.settings
        store = self.services.clip_store
        downloaded = await download_clip(
            self.services.http,
            url,
            max_bytes=self.max_bytes,
            timeout=settings.clip_download_timeout_s,
            dest_dir=store.incoming_dir,
        )
        try:
            video, fingerprint = await asyncio.to_thread(_inspect, downloaded)
        except BaseException:
            with contextlib.suppress(OSError):
                downloaded.path.unlink()
            raise
        stored = await asyncio.to_thread(
            store.save_file,
            downloaded.path,
            downloaded.extension,
            sha256=downloaded.sha256,
            move=True,
        )
        return FetchedClip(
            sha256=stored.sha256,
            extension=stored.path.suffix,
            size_bytes=downloaded.size_bytes,
            path=stored.path,
            already_stored=stored.duplicate,
            video=video,
            fingerprint=fingerprint,
        )

    async def preflight(
        self,
        guild_id: int,
        *,
        title: str,
        prompt: str,
        use: str,
        video: VideoInfo,
        fingerprint: Sequence[int],
        sha256: str | None,
        exclude_family: int | None = None,
    ) -> list[Check]:
        """The checks shown on the card; duplicates are looked for among this guild's clips."""
        queue = self.services.clips
        duplicate = None
        if sha256:
            duplicate = await queue.find_duplicate(guild_id, sha256, exclude_family=exclude_family)
        if duplicate is None:
            duplicate = await queue.find_near_duplicate(
                guild_id, fingerprint, exclude_family=exclude_family
            )
        terms = self.services.clip_terms
        return run_preflight(
            video,
            f"{title}\n{prompt}",  # a franchise named only in the title matters as much
            use=use,
            franchise_terms=await terms.franchise_terms(guild_id),
            brand_terms=await terms.brand_terms(guild_id),
            duplicate=duplicate,
        )


def _inspect(downloaded: DownloadedClip) -> tuple[VideoInfo, list[int]]:
    return probe_video(downloaded.path), fingerprint_video(downloaded.path)
