"""`greenroom sources ...` and `greenroom ingest` registering its folder, run in-process."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.ingest.connectors.conftest import serve  # noqa: F401 - the local server fixture
from tests.ingest.connectors.fake_notion import TOKEN, FakeNotion, dashed
from tests.knowledge.sources_fixture import Site, page

GOOGLE_TOKEN = "ya29.a0AfB_CliGoogleTokenValue-0123456789"


@pytest.fixture
def cli(cli_main, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """run(*args) -> (exit code, stdout + stderr), with source tokens in the environment."""
    monkeypatch.setenv("GREENROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GREENROOM_NOTION_TOKEN", TOKEN)
    monkeypatch.setenv("GREENROOM_GOOGLE_TOKEN", GOOGLE_TOKEN)

    def run(*args: object) -> tuple[int, str]:
        code, out, err = cli_main(*args)
        return code, out + err

    return run


async def test_sources_add_list_sync_remove(cli, serve, tmp_path: Path) -> None:  # noqa: F811
    site = Site({"/gear": page("Gear", "The microphone is a Shure SM7B on a boom arm.")})
    base = await serve(site.app())

    async def shell(*args):  # the CLI runs its own event loop: call it from a worker thread
        return await asyncio.to_thread(cli, *args)

    code, out = await shell(
        "sources", "add", "web_page", f"{base}/gear", "--kb", "g", "--schedule", "60",
        "--option", "tags=gear,setup", "--option", "timeout=5",
    )  # fmt: skip
    assert code == 0, out
    key = f"web_page:{base}/gear"
    assert f"added {key}" in out and f"{key}: ok: added 1" in out

    code, out = await shell("sources", "list", "--kb", "g")
    assert code == 0
    assert f"kind: web_page    target: {base}/gear" in out
    assert '"tags": ["gear", "setup"]' in out and "schedule: every 60 min" in out
    assert "documents: 1" in out and "last result: ok: added 1" in out and "UTC" in out

    site.status["/gear"] = 503
    code, out = await shell("sources", "sync", f"{base}/gear", "--kb", "g")
    assert code == 1 and "failed: The server had an error (HTTP 503)" in out
    assert "Nothing was removed" in out

    code, out = await shell("sources", "add", "web_page", "ftp://nope", "--kb", "g")
    assert code == 2 and "is not an http(s) address" in out
    code, out = await shell("sources", "add", "folder", str(tmp_path), "--option", "tags=x")
    assert code == 2 and "front matter" in out
    code, out = await shell("sources", "add", "web_page", f"{base}/x", "--option", "oops")
    assert code == 2 and "KEY=VALUE" in out

    code, out = await shell("sources", "remove", key, "--kb", "g")
    assert code == 0 and f"removed {key} and its 1 documents" in out
    code, out = await shell("sources", "remove", key, "--kb", "g")
    assert code == 2 and "There is no source" in out


def test_ingest_registers_its_folder(cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nThe capture card is an Elgato 4K60.\n", encoding="utf-8")
    (notes / "b.txt").write_text("Streams start at eight.\n", encoding="utf-8")
    code, out = cli("ingest", notes, "--kb", "k", "--include", "*.md")
    assert code == 0 and "added 1," in out
    code, out = cli("sources", "list", "--kb", "k")
    assert f"folder:{notes.resolve()}" in out and "watched by the bot" in out
    assert '"include": ["*.md"]' in out and "documents: 1" in out
    assert "last result: ok: added 1" in out

    (notes / "c.md").write_text("# C\n\nThe chair is a Secretlab.\n", encoding="utf-8")
    code, out = cli("sources", "sync", "--kb", "k")
    assert code == 0 and "ok: added 1, updated 0, unchanged 1" in out
    code, out = cli("ingest", notes, "--kb", "k", "--include", "*.md")  # same as before
    assert code == 0 and "unchanged 2" in out
    code, out = cli("sources", "list", "--kb", "k")
    assert out.count("folder:") == 1


async def test_tokens_are_never_printed_or_logged(cli, serve, caplog, monkeypatch) -> None:  # noqa: F811
    from knowledge.source_syncer import SourceSyncer

    caplog.set_level(logging.DEBUG)
    fake = FakeNotion()
    root = dashed("2" * 32)
    fake.add_page(root, "Overlay", [fake.text_block("paragraph", "The overlay runs in OBS.")])
    base = await serve(fake.app())
    original = SourceSyncer.__init__

    def with_fake_notion(self, *args, **kwargs):  # the CLI builds its own syncer
        original(self, *args, **kwargs)
        self.connector_options["notion_page"] = {"base_url": base}

    monkeypatch.setattr(SourceSyncer, "__init__", with_fake_notion)
    code, out = await asyncio.to_thread(cli, "sources", "add", "notion_page", "2" * 32)
    assert code == 0 and "ok: added 1" in out, out
    _, listing = await asyncio.to_thread(cli, "sources", "list")
    monkeypatch.setenv("GREENROOM_NOTION_TOKEN", "secret_ntn_expired_0123456789")
    code, synced = await asyncio.to_thread(cli, "-v", "sources", "sync")
    assert code == 1 and "token was rejected" in synced
    everything = "\n".join([out, listing, synced, caplog.text])
    assert "notion_page" in everything and caplog.records
    for secret in (TOKEN, GOOGLE_TOKEN, "secret_ntn_expired"):
        assert secret not in everything
