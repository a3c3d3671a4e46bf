"""export_clips: files named by id/version/slug, and JSON + CSV manifests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bot.clips import ClipStore, ReviewPolicy, ReviewQueue, export_clips
from tests.clips.conftest import GUILD, MOD_A, MOD_B, OTHER_GUILD, SUBMITTER, FakeClock, draft


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def test_export_copies_approved_clips_with_manifests(
    queue: ReviewQueue, clock: FakeClock, tmp_path: Path
) -> None:
    store = ClipStore(tmp_path / "store")
    alert = store.save_bytes(b"alert video", ".mp4")
    intro = store.save_bytes(b"intro video", ".webm")
    policy = ReviewPolicy(approvals_required=2)

    first = await queue.submit(
        GUILD, SUBMITTER, draft("Neon Raid: Alert!", sha256=alert.sha256, file_ext=".mp4")
    )
    clock.advance(120)
    await queue.approve(first.id, GUILD, MOD_A, policy=policy)
    await queue.approve(first.id, GUILD, MOD_B, policy=policy)
    secret = await queue.submit(
        GUILD,
        SUBMITTER,
        draft("Café intro", prompt='=HYPERLINK("x")', sha256=intro.sha256, secret=True),
    )
    await queue.approve(secret.id, GUILD, MOD_A)
    missing = await queue.submit(GUILD, SUBMITTER, draft("Lost file", sha256="f" * 64))
    await queue.approve(missing.id, GUILD, MOD_A)
    await queue.submit(GUILD, SUBMITTER, draft("Not approved", sha256=alert.sha256))
    other = await queue.submit(OTHER_GUILD, SUBMITTER, draft("Elsewhere", sha256=alert.sha256))
    await queue.approve(other.id, OTHER_GUILD, MOD_A)

    manifest = await export_clips(queue, store, GUILD, tmp_path / "export")

    names = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert names == [
        "1-v1-neon-raid-alert.mp4",
        "2-v1-cafe-intro.webm",
        "manifest.csv",
        "manifest.json",
    ]
    assert (tmp_path / "export" / "1-v1-neon-raid-alert.mp4").read_bytes() == b"alert video"
    assert manifest.missing_files == [missing.id]

    document = json.loads(manifest.json_path.read_text())
    assert document["guild_id"] == GUILD and document["statuses"] == ["approved"]
    clips = {c["id"]: c for c in document["clips"]}
    assert clips[first.id]["approvals"] == [MOD_A, MOD_B]
    assert clips[first.id]["submitted_at"] == "2023-11-14T22:13:20+00:00"
    assert clips[first.id]["approved_at"] == "2023-11-14T22:15:20+00:00"
    assert clips[first.id]["sha256"] == alert.sha256
    assert clips[secret.id]["secret"] is True
    assert clips[secret.id]["prompt"] == '=HYPERLINK("x")'  # exact in JSON
    assert clips[missing.id]["file"] is None

    rows = {int(r["id"]): r for r in read_csv(manifest.csv_path)}
    assert set(rows) == {first.id, secret.id, missing.id}
    assert rows[first.id]["approvals"] == f"{MOD_A} {MOD_B}"
    assert rows[first.id]["file"] == "1-v1-neon-raid-alert.mp4"
    assert rows[secret.id]["secret"] == "yes"
    assert rows[secret.id]["prompt"] == '\'=HYPERLINK("x")'  # defused for spreadsheets


async def test_export_of_every_guild(queue: ReviewQueue, tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "store")
    video = store.save_bytes(b"v", ".mp4")
    for guild in (GUILD, OTHER_GUILD):
        clip = await queue.submit(guild, SUBMITTER, draft(sha256=video.sha256))
        await queue.approve(clip.id, guild, MOD_A)
    manifest = await export_clips(queue, store, None, tmp_path / "all")
    assert [c.guild_id for c in manifest.clips] == [GUILD, OTHER_GUILD]
    assert len({c.file for c in manifest.clips}) == 2  # ids keep names apart
