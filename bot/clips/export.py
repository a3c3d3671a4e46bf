"""Copy a guild's approved clips into a folder with a manifest, for the streamer's own editing.

This is a local tool for the streamer, so secret recipes keep their prompt here; the `secret`
column says which ones must not be shared. The manifests are written last, so a folder with a
manifest is complete.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.clips.files import ClipStore
from bot.clips.models import Clip
from bot.clips.review import ReviewQueue, StatusFilter, status_values
from bot.clips.states import ClipStatus

CSV_COLUMNS = (
    "id",
    "guild_id",
    "version",
    "title",
    "prompt",
    "tool",
    "use",
    "status",
    "secret",
    "approvals",
    "submitted_at",
    "approved_at",
    "file",
    "sha256",
)


@dataclass(frozen=True)
class ExportedClip:
    id: int
    guild_id: int
    version: int
    title: str
    prompt: str
    tool: str
    use: str
    status: str
    secret: bool
    approvals: list[int]  # ids of the mods whose approvals approved it
    submitted_at: str  # ISO 8601, UTC
    approved_at: str | None
    file: str | None  # name inside the export folder; None when the store lacks the file
    sha256: str | None


@dataclass(frozen=True)
class ExportManifest:
    dest_dir: Path
    clips: list[ExportedClip]
    missing_files: list[int]  # clip ids whose file is not in the clip store
    json_path: Path
    csv_path: Path


async def export_clips(
    queue: ReviewQueue,
    clip_store: ClipStore,
    guild_id: int | None,
    dest_dir: Path | str,
    *,
    status: StatusFilter = ClipStatus.APPROVED,
) -> ExportManifest:
    """Copy the files of one guild's (or, with None, every guild's) clips in `status`."""
    dest = Path(dest_dir)
    await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=True)
    exported: list[ExportedClip] = []
    missing: list[int] = []
    for clip in await queue.clips_with_status(guild_id, status):
        source = await asyncio.to_thread(clip_store.find, clip.sha256) if clip.sha256 else None
        name = None
        if source is None:
            missing.append(clip.id)
        else:
            name = export_file_name(clip, source.suffix)
            await asyncio.to_thread(shutil.copyfile, source, dest / name)
        approved = await queue.last_entry_to(clip.id, ClipStatus.APPROVED)
        exported.append(
            ExportedClip(
                id=clip.id,
                guild_id=clip.guild_id,
                version=clip.version,
                title=clip.title,
                prompt=clip.prompt,
                tool=clip.tool,
                use=clip.use,
                status=clip.status.value,
                secret=clip.secret,
                approvals=list(await queue.approvers(clip.id, clip.guild_id)),
                submitted_at=_iso(clip.created_at),
                approved_at=_iso(approved.at) if approved else None,
                file=name,
                sha256=clip.sha256,
            )
        )
    manifest = ExportManifest(
        dest_dir=dest,
        clips=exported,
        missing_files=missing,
        json_path=dest / "manifest.json",
        csv_path=dest / "manifest.csv",
    )
    await asyncio.to_thread(_write_manifests, manifest, guild_id, status_values(status))
    return manifest


def export_file_name(clip: Clip, extension: str) -> str:
    """`<id>-v<version>-<slug>.<ext>`, e.g. `42-v2-neon-raid-alert.mp4`."""
    return f"{clip.id}-v{clip.version}-{_slug(clip.title)}{extension or '.mp4'}"


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:48].rstrip("-") or "clip"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _write_manifests(manifest: ExportManifest, guild_id: int | None, statuses: list[str]) -> None:
    document = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "guild_id": guild_id,
        "statuses": statuses,
        "missing_files": manifest.missing_files,
        "clips": [asdict(clip) for clip in manifest.clips],
    }
    _write_atomically(manifest.json_path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    rows = []
    for clip in manifest.clips:
        row = asdict(clip)
        row["approvals"] = " ".join(str(mod) for mod in clip.approvals)
        row["secret"] = "yes" if clip.secret else "no"
        rows.append({key: _csv_cell(row[key]) for key in CSV_COLUMNS})
    with _atomic_text(manifest.csv_path) as out:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _csv_cell(value: object) -> object:
    """Defuse spreadsheet formulas: prompts are typed by community members."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return "" if value is None else value


def _write_atomically(path: Path, text: str) -> None:
    with _atomic_text(path) as out:
        out.write(text)


@contextmanager
def _atomic_text(path: Path) -> Iterator[TextIO]:
    """A text file that appears under its name only when fully written."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
