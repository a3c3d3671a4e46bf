"""The clip green room over the wire: submitting, the card, approval and what follows it,
refusals, failed downloads, duplicates, secret recipes and the export CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.clips import ClipDraft, ClipStatus, ClipStore, ReviewQueue
from bot.settings import Settings
from bot.storage import Database
from tests.bot.clip_fixtures import *  # noqa: F403
from tests.bot.clip_fixtures import (
    PROMPT,
    TITLE,
    approve,
    command,
    refused,
    submit,
    upload,
)
from tests.bot.conftest import greenroom

HOW = "how did you make the glitter comet raid alert?"


async def recipe_ids(services, guild_id: int) -> list[str]:
    catalog = services.kb(guild_id).catalog
    docs = await asyncio.to_thread(catalog.documents)
    return sorted(d for d in docs if d.startswith("clip-recipes::"))


@pytest.mark.asyncio
async def test_submit_approve_notify_showcase_and_recipe_answers(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        inter, reply = await submit(cw, cw.creator, media.comet, notes="Kept take 3 of 6.")
        assert inter.ephemeral and "as clip #1" in reply.content

        card = await cw.double.wait_for_message(cw.review)
        assert card.embed["title"] == f"Clip #1: {TITLE}"
        shown = card.text
        for expected in (
            PROMPT,
            "Kept take 3 of 6.",
            "Sora 2",
            f"<@{cw.creator.id}>",
            "2.0 s · 160x90 · 16:9 · h264",  # duration, resolution, aspect ratio, codec
            "· audio",
            "**duration**",
            "**resolution**",
            "**aspect ratio**",
            "**copyright**",
            "**brand**",
            "**duplicate**",
            "**ai disclosure**",
            "☐ quality · ☐ brand safety · ☐ copyright · ☐ likeness and consent · ☐ AI disclosure",
            "Waiting for review",
        ):
            assert expected in shown, expected
        assert [a["filename"] for a in card.attachments] == ["clip-1.mp4"]
        assert card.custom_ids == [
            f"review:{a}:1" for a in ("approve", "reject", "changes", "hold")
        ]
        assert card.allowed_mentions == {"parse": []}
        thread = await cw.double.wait_for_thread(cw.review)
        assert thread.name == f"Clip #1: {TITLE}"

        done, summary = await approve(cw, cw.mod, card, 1, note="Lovely sparkle.")
        assert done.ephemeral
        assert "Approved clip #1." in summary.content
        assert f"Told <@{cw.creator.id}> by DM." in summary.content
        assert f"Posted in <#{cw.showcase.id}>" in summary.content

        dm = await cw.double.wait_for_message(cw.creator)
        assert "was approved" in dm.content and "Lovely sparkle." in dm.content
        assert f"Approved by <@{cw.mod.id}>" in card.text
        assert "✅ quality · ✅ brand safety" in card.text
        assert card.custom_ids == ["review:publish:1", "review:reopen:1", "review:veto:1"]
        assert [a["filename"] for a in card.attachments] == ["clip-1.mp4"]  # kept on edit

        shown_off = await cw.double.wait_for_message(cw.showcase)
        assert shown_off.embed["title"] == TITLE and shown_off.attachments

        _, answer = await command(cw, cw.fan, "ask", {"question": HOW})
        assert PROMPT in answer.embed["description"]

        _, published = await command(cw, cw.mod, "review publish", {"clip": 1})
        assert "Marked clip #1 published." in published.content
        assert card.custom_ids == []
        assert "📺 Published" in card.text

        _, history = await command(cw, cw.mod, "review history", {"clip": 1})
        for step in ("submitted (new → waiting for review)", "approved", "marked published"):
            assert step in history.text
    assert (await services.clips.get(1, cw.guild.id)).status == ClipStatus.PUBLISHED


@pytest.mark.asyncio
async def test_refusals_are_private_and_change_nothing(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        inter, reply = await submit(cw, cw.fan, media.comet)
        assert inter.ephemeral and "Only members with the creator role" in reply.content
        assert await services.clips.mine(cw.guild.id, cw.fan.id) == []

        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        for member in (cw.fan, cw.creator2):
            for action in ("approve", "reject", "changes", "hold"):
                reply = await refused(cw, member, card, action, 1)
                assert "Only moderators can review clips. Nothing was changed." in reply

        for member, name, options in (
            (cw.fan, "review queue", {}),
            (cw.creator, "review history", {"clip": 1}),
            (cw.streamer, "review publish", {"clip": 1}),  # the streamer reviews, mods publish
            (cw.creator, "review reopen", {"clip": 1, "reason": "please"}),
        ):
            inter, reply = await command(cw, member, name, options, check_permissions=False)
            assert inter.ephemeral and "Only moderators" in reply.content, name
        for name, options in (("clip secret", {"clip": 1}), ("clip status", {"clip": 1})):
            inter, reply = await command(cw, cw.creator2, name, options)
            assert inter.ephemeral and "Only the clip's creator or a mod" in reply.content
        assert (
            await cw.double.autocomplete(
                cw.guild, cw.general, cw.creator2, "clip status", "clip", "1"
            )
            == []
        )
    clip = await services.clips.get(1, cw.guild.id)
    assert clip.status == ClipStatus.SUBMITTED and not clip.secret
    assert len(await services.clips.history(1, cw.guild.id)) == 1  # just the submission


@pytest.mark.asyncio
async def test_failed_downloads_say_what_went_wrong(clip_world, clip_services, clip_server):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        for path, expected in (
            ("/big-declared", "That file is 312 MB; clips can be at most 100 MB."),
            ("/page.html", "That link is not a video (it is text/html)."),
            ("/slow-headers", "The download timed out after 1 s."),
            ("/missing", "The link returned 404 Not Found: it may have expired."),
            ("/html-as-video", "That link is not a video"),
        ):
            inter, reply = await submit(cw, cw.creator, url=clip_server.url(path))
            assert inter.ephemeral and expected in reply.content, path

        fake = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000  # an MP4 header and nothing else
        for options, expected in (
            ({}, "Attach the clip as `file` or give a `url`"),
            ({"file": upload(fake), "url": clip_server.url("/clip.mp4")}, "not both"),
            ({"file": upload(fake)}, "That file could not be read as a video."),
            ({"file": upload(b"just text", "notes.txt", "text/plain")}, "That file is not a video"),
            ({"url": "ftp://example.com/clip.mp4"}, "not a valid http(s) link"),
        ):
            values = {"title": TITLE, "prompt": PROMPT, "tool": "Veo", "use": "intro", **options}
            inter, reply = await command(cw, cw.creator, "clip submit", values)
            assert inter.ephemeral and expected in reply.content, expected

        services.settings = services.settings.model_copy(update={"max_clip_mb": 1})
        big = upload(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (1024 * 1024 + 1))
        _, reply = await command(
            cw,
            cw.creator,
            "clip submit",
            {"title": TITLE, "prompt": PROMPT, "tool": "Veo", "use": "intro", "file": big},
        )
        assert "That file is 1.0 MB; clips can be at most 1.0 MB." in reply.content

        await services.guild_configs.update(cw.guild.id, review_channel=None)
        _, reply = await submit(cw, cw.creator, url=clip_server.url("/clip.mp4"))
        assert "`/greenroom setup review-channel`" in reply.content
    assert await services.clips.mine(cw.guild.id, cw.creator.id) == []
    assert not any(services.clip_store.root.glob("??/*"))  # nothing kept
    assert not any(services.clip_store.incoming_dir.iterdir())  # no half downloads left
    assert cw.double.messages(cw.review) == []


@pytest.mark.asyncio
async def test_same_file_twice_and_re_encodes_are_recognised(
    clip_world, clip_services, media, clip_server
):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        _, again = await submit(cw, cw.creator2, media.comet, title="Same comet")
        assert "I've seen this exact file before." in again.content
        assert "This exact file was already submitted as #1" in again.content
        _, webm = await submit(cw, cw.creator, url=clip_server.url("/clip.webm"), title="Webm")
        assert "Looks like a re-encoded copy of #1" in webm.content
        cards = cw.double.messages(cw.review)
        assert "❌ **duplicate**: This exact file was already submitted as #1" in cards[1].text
        assert "⚠️ **duplicate**: Looks like a re-encoded copy of #1" in cards[2].text
    stored = sorted(p.suffix for p in services.clip_store.root.glob("??/*"))
    assert stored == [".mp4", ".webm"]  # the same bytes are stored once


@pytest.mark.asyncio
async def test_secret_recipe_is_not_revealed_by_ask(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        await submit(cw, cw.creator, media.comet)
        card = await cw.double.wait_for_message(cw.review)
        await approve(cw, cw.mod, card, 1)
        assert await recipe_ids(services, cw.guild.id) == ["clip-recipes::1"]

        _, reply = await command(cw, cw.creator, "clip secret", {"clip": 1, "secret": True})
        assert "now secret" in reply.content and "only say" in reply.content
        assert "🔒 recipe kept secret" in card.text

        _, answer = await command(cw, cw.fan, "ask", {"question": HOW})
        shown = answer.text
        assert "keeps this recipe secret" in shown
        assert "cathedral" not in shown and "glitter comet crashing" not in shown

        _, reply = await command(cw, cw.mod, "clip secret", {"clip": 1, "secret": False})
        _, answer = await command(cw, cw.fan, "ask", {"question": HOW})
        assert PROMPT in answer.embed["description"]


def test_export_cli_copies_approved_clips_with_a_manifest(
    tmp_path: Path, media, monkeypatch, capsys
):
    data, out, guild = tmp_path / "data", tmp_path / "export", 4242

    async def prepare() -> None:
        db = await Database.open(Settings(data_dir=data).database_path)
        queue = await ReviewQueue.open(db)
        stored = ClipStore(data / "clips").save_bytes(media.comet, ".mp4")
        draft = ClipDraft(
            title="Glitter comet",
            prompt=PROMPT,
            tool="Sora 2",
            use="alert",
            sha256=stored.sha256,
            file_ext=".mp4",
        )
        approved = await queue.submit(guild, 7, draft)
        await queue.approve(approved.id, guild, 8)
        await queue.submit(guild, 7, ClipDraft(title="Still waiting"))
        elsewhere = await queue.submit(guild + 1, 7, ClipDraft(title="Other server"))
        await queue.approve(elsewhere.id, guild + 1, 8)
        await db.close()

    asyncio.run(prepare())
    monkeypatch.chdir(tmp_path)
    args = ["--data-dir", str(data), "clips", "export", "--status", "approved", str(out)]
    assert main([*args, "--guild", str(guild)]) == 0
    printed = capsys.readouterr().out
    assert f"exported 1 approved clips of server {guild}" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(c["id"], c["title"], c["file"]) for c in manifest["clips"]] == [
        (1, "Glitter comet", "1-v1-glitter-comet.mp4")
    ]
    assert manifest["clips"][0]["approvals"] == [8]
    assert (out / "1-v1-glitter-comet.mp4").read_bytes() == media.comet
    assert "Glitter comet" in (out / "manifest.csv").read_text()

    assert main(args) == 0  # every server: the other server's clip has no file
    assert "missing from the clip store (listed without a file): #3" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path / "nowhere"), "clips", "export", str(out)]) == 2


@pytest.mark.asyncio
async def test_admins_set_up_terms_quorum_streamer_and_showcase(clip_world, clip_services, media):
    cw, services = clip_world, clip_services
    async with greenroom(cw.world, services):
        _, denied = await command(
            cw, cw.fan, "greenroom setup brand-term", {"term": "PIXELMOTH"}, check_permissions=False
        )
        assert "Only server admins" in denied.content
        for name, options, expected in (
            ("brand-term", {"term": "PIXELMOTH"}, "“PIXELMOTH” is now flagged"),
            ("franchise-term", {"term": "Pikachu", "enabled": False}, "no longer flagged"),
            ("franchise-term", {"term": "Moth Kingdom"}, "is now flagged as a franchise"),
            ("approvals", {"count": 2}, "Clips now need 2 approval(s)"),
            ("streamer-role", {"role": cw.streamers, "can_veto": False}, "reviews like a mod"),
            ("showcase-channel", {}, "won't be posted to a showcase channel"),
        ):
            _, reply = await command(cw, cw.admin, f"greenroom setup {name}", options)
            assert expected in reply.content, name

        prompt = "Pikachu waves a PIXELMOTH flag over the Moth Kingdom"
        await submit(cw, cw.creator, media.comet, prompt=prompt)
        card = await cw.double.wait_for_message(cw.review)
        assert "⚠️ **brand**: review logo rendering (PIXELMOTH)." in card.text
        assert "⚠️ **copyright**: the prompt names Moth Kingdom;" in card.text
        assert "0 of 2 approvals" in card.text
    config = await services.guild_configs.get(cw.guild.id)
    assert (config.approvals_required, config.streamer_can_veto) == (2, False)
    assert config.streamer_role == cw.streamers.id and config.showcase_channel is None
