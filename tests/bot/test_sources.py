"""/kb sources over the wire, live sync inside the bot, and tokens that never show."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr

from bot.services import Services
from bot.settings import Settings
from ingest.connectors.spec import SourceSpec
from ingest.loaders import FolderSource
from knowledge.base import Library
from knowledge.live_sync import LiveSync
from tests.bot.conftest import World, greenroom
from tests.ingest.connectors._helpers import Sleeps
from tests.ingest.connectors.conftest import serve  # noqa: F401 - the local server fixture
from tests.ingest.connectors.fake_notion import TOKEN, FakeNotion, dashed
from tests.knowledge.live_clock import ManualClock, finished_syncs
from tests.knowledge.sources_fixture import Site, page

pytestmark = pytest.mark.asyncio

GEAR = page("Gear", "The stream microphone is a Shure SM7B on a boom arm.")


@pytest_asyncio.fixture
async def live_services(
    tmp_path: Path, embedder, world: World, notes_dir: Path
) -> AsyncIterator[Services]:
    """Services whose sources may live on 127.0.0.1, polled and scheduled every 0.2 s."""
    settings = Settings(
        data_dir=tmp_path / "data",
        discord_token=None,
        notion_token=SecretStr(TOKEN),
        source_allow_private_hosts=True,
        source_poll_seconds=0.2,
        source_tick_seconds=0.2,
    )
    services = await Services.open(settings, Library(settings.data_dir, embedder))
    services.kb(world.guild.id).sync([FolderSource(notes_dir)])  # ingested the old way
    await services.guild_configs.update(
        world.guild.id, mod_roles=(world.mods.id,), user_cooldown_seconds=0
    )
    yield services
    await services.close()


@pytest.fixture
def streamer(world: World):
    """A server admin who is also a mod (the /kb commands are for mods)."""
    return world.guild.add_member("streamer", roles=[*world.admin.roles, world.mods])


async def run(world: World, user, command: str, options=None, timeout: float = 15):
    inter = await world.double.slash_command(world.guild, world.general, user, command, options)
    message = await inter.wait_message(timeout=timeout)
    await world.double.wait_until(
        lambda: not (inter.messages[-1].content or "").startswith("Reloading"),
        timeout=timeout,
        what=command,
    )
    assert inter.ephemeral
    return inter.messages[-1] if inter.messages else message


async def test_admins_add_sync_and_remove_sources(world, live_services, streamer, serve):  # noqa: F811
    site = Site({"/gear": GEAR})
    base = await serve(site.app())
    kb = live_services.kb(world.guild.id)
    async with greenroom(world, live_services):
        add = {"kind": "web_page", "target": f"{base}/gear#top", "schedule": 60}
        refused = await run(world, world.mod, "kb sources add", add)
        assert "Only server admins" in refused.content
        assert await live_services.sources.list(str(world.guild.id)) != []  # just the folder

        added = await run(world, streamer, "kb sources add", add)
        assert "Added **web_page**" in added.content and "every 60 min" in added.content
        assert "✅ ok: added 1" in added.content
        key = f"web_page:{base}/gear"
        assert len(kb.catalog.documents(key)) == 1

        listing = (await run(world, world.mod, "kb sources list")).content
        assert f"`{base}/gear` · every 60 min · 1 document" in listing
        assert "**folder**" in listing and "3 documents" in listing and "last sync <t:" in listing

        choices = await world.double.autocomplete(
            world.guild, world.general, streamer, "kb sources remove", "source", "gear"
        )
        assert choices == [{"name": key, "value": key}]

        synced = await run(world, world.mod, "kb sources sync", {"source": key})
        assert "✅ ok" in synced.content and "unchanged 1" in synced.content

        site.status["/gear"] = 404  # the page goes missing: the notes keep it
        reloaded = await run(world, world.mod, "kb reload")
        assert "Reloaded 2 source(s)" in reloaded.content and "not found" in reloaded.content
        assert len(kb.catalog.documents(key)) == 1
        listing = (await run(world, world.mod, "kb sources list")).content
        assert "⚠️ failed: The page was not found (HTTP 404). Nothing was removed" in listing

        denied = await run(world, world.mod, "kb sources remove", {"source": key})
        assert "Only server admins" in denied.content
        removed = await run(world, streamer, "kb sources remove", {"source": key})
        assert "Removed **web_page**" in removed.content and "the 1 document it" in removed.content
        assert kb.catalog.documents(key) == {}
        unknown = await run(world, streamer, "kb sources remove", {"source": key})
        assert "There is no source" in unknown.content


async def test_bad_or_private_targets_are_refused(world, services, streamer):
    async with greenroom(world, services):
        private = await run(
            world,
            streamer,
            "kb sources add",
            {"kind": "sitemap", "target": "http://127.0.0.1:8080/sitemap.xml"},
        )
        assert "private or local address" in private.content
        bad = await run(
            world, streamer, "kb sources add", {"kind": "google_doc", "target": "not a link"}
        )
        assert "Nothing was added" in bad.content
        notion = await run(
            world, streamer, "kb sources add", {"kind": "notion_page", "target": "1" * 32}
        )
        assert "no Notion token" in notion.content
    assert [r.kind for r in await services.sources.list(str(world.guild.id))] == ["folder"]


@pytest.fixture
def live_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The bot's live-sync loops run on this clock (round by round), not the wall clock."""
    clock = ManualClock(time.time())
    init = LiveSync.__init__

    def on_the_clock(self, syncer, **options) -> None:
        init(self, syncer, **{**options, "clock": clock, "sleep": clock.sleep})

    # The class, not the cog module's name for it: closing a bot drops its extensions' modules,
    # and the next bot imports them afresh.
    monkeypatch.setattr(LiveSync, "__init__", on_the_clock)
    return clock


async def test_a_changed_note_is_answered_within_two_polls(
    world, live_services, notes_dir, live_clock
):
    kb = live_services.kb(world.guild.id)
    poll = live_services.settings.source_poll_seconds
    assert poll == live_services.settings.source_tick_seconds  # one advance: a round of each

    def knows(word: str) -> bool:
        return any(word in hit.chunk.text for hit in kb.search(word, k=3))

    async with greenroom(world, live_services):
        await live_clock.sleeping(2)  # the watcher and the scheduler had their first round
        await live_clock.advance(poll)  # the folder held still: its fingerprint is settled
        (notes_dir / "alerts.md").write_text(
            "# Alerts setup\n\n## Raid alert\nRaids now play a Kling clip of a paper crane.\n",
            encoding="utf-8",
        )
        await live_clock.advance(poll)  # the change is seen
        await live_clock.advance(poll)  # and, having held still, synced
        assert await asyncio.to_thread(knows, "crane")


async def test_scheduled_sources_resync_inside_the_bot(
    world,
    live_services,
    serve,  # noqa: F811
    live_clock,
):
    site = Site({"/gear": GEAR})
    base = await serve(site.app())
    kb_name = str(world.guild.id)
    record, _ = await live_services.sources.add(
        kb_name, SourceSpec("web_page", f"{base}/gear", {}, 30), sync=False
    )
    kb = live_services.kb(world.guild.id)
    synced = finished_syncs(live_services.sources)
    async with greenroom(world, live_services) as bot:
        first = await synced.of(record.key)  # never synced: due at once
        assert first.report.added == 1
        assert kb.sources.get(record.key).last_result.added == 1
        await live_clock.sleeping(2)
        due = kb.sources.get(record.key).last_synced_at + 30 * 60  # synced by the wall clock
        await live_clock.advance(due - live_clock.now)  # its 30 minutes are up
        again = await synced.of(record.key)
        assert again.report.unchanged == 1
        tasks = list(bot.get_cog("LiveSyncCog")._tasks)
        assert {t.get_name() for t in tasks} == {"sources:watch-folders", "sources:schedule"}
    assert all(t.done() for t in tasks)  # stopped with the bot


async def test_tokens_never_show_in_replies_or_logs(
    world,
    live_services,
    streamer,
    serve,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.DEBUG)
    fake = FakeNotion()
    root = dashed("1" * 32)
    fake.add_page(root, "Overlay notes", [fake.text_block("paragraph", "The overlay is OBS.")])
    base = await serve(fake.app())
    live_services.sources.connector_options["notion_page"] = {"base_url": base, "sleep": Sleeps()}
    async with greenroom(world, live_services):
        added = await run(
            world, streamer, "kb sources add", {"kind": "notion_page", "target": "1" * 32}
        )
        assert "✅ ok: added 1" in added.content
        # The token is revoked: the failure is reported, the page stays.
        live_services.sources.tokens = Settings(
            notion_token=SecretStr("secret_ntn_revoked_0123456789")
        ).source_tokens()
        failed = await run(world, world.mod, "kb sources sync", {"source": f"notion_page:{root}"})
        assert "failed" in failed.content
        listing = (await run(world, world.mod, "kb sources list")).content
    assert len(live_services.kb(world.guild.id).catalog.documents(f"notion_page:{root}")) == 1
    shown = "\n".join(
        [caplog.text, added.content, failed.content, listing, repr(live_services.sources)]
        + [str(m.content) for m in world.double.messages(world.general)]
    )
    for secret in (TOKEN, "secret_ntn_revoked"):
        assert secret not in shown
