"""The clip green room's test world: roles, channels, small videos and a misbehaving link host.

Import the fixtures into a test module: `from tests.bot.clip_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from bot.services import Services
from ingest.connectors.outbound import outbound_client
from tests.bot.conftest import World
from tests.clips.http_fixture import ClipServer, serve_clips
from tests.clips.media_factory import write_clip
from tests.discord_double import Upload

__all__ = ["clip_server", "clip_services", "clip_world", "media"]  # the fixtures

TITLE = "Glitter comet raid alert"
PROMPT = "a glitter comet crashing into a violet cathedral at dusk, slow motion, 35mm film grain"
ALL_FINE = ["quality", "brand_safety", "copyright", "likeness_consent", "ai_disclosure"]


@dataclass(frozen=True)
class Media:
    """Two tiny clips (160x90, 2 s, ~20 KB): `comet` and a different-looking `bands`."""

    comet: bytes  # h264 + aac audio, scene 0
    bands: bytes  # h264, no audio, scene 1
    comet_webm: bytes  # the same picture as `comet`, re-encoded: a near duplicate


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    folder = tmp_path_factory.mktemp("clip-media")
    return Media(
        comet=write_clip(folder / "comet.mp4", audio=True).read_bytes(),
        bands=write_clip(folder / "bands.mp4", scene=1).read_bytes(),
        comet_webm=write_clip(
            folder / "comet.webm", width=192, height=108, codec="libvpx-vp9", bit_rate=60_000
        ).read_bytes(),
    )


@pytest.fixture(scope="session")
def clip_server(media: Media) -> Iterator[ClipServer]:
    """/clip.mp4, /clip.webm, /big-declared, /page.html, /slow-headers, /missing, ..."""
    with serve_clips(media.bands, media.comet_webm) as server:
        yield server


def upload(data: bytes, name: str = "clip.mp4", content_type: str = "video/mp4") -> Upload:
    return Upload(name, data, content_type)


@dataclass
class ClipWorld:
    world: World
    review: object
    showcase: object
    creators: object
    streamers: object
    creator: object  # may submit, is not a mod
    creator2: object
    mod2: object
    mod3: object
    mod_creator: object  # a mod who also submits clips
    streamer: object  # the streamer's role, not a mod

    def __getattr__(self, name: str):  # world.guild, world.mod, world.fan, ...
        if name == "world":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.world, name)


@pytest.fixture
def clip_world(world: World) -> ClipWorld:
    guild = world.guild
    creators = guild.add_role("Creators")
    streamers = guild.add_role("Streamer")
    return ClipWorld(
        world=world,
        review=guild.add_text_channel("clip-review"),
        showcase=guild.add_text_channel("showcase"),
        creators=creators,
        streamers=streamers,
        creator=guild.add_member("creator", roles=[creators]),
        creator2=guild.add_member("creator2", roles=[creators]),
        mod2=guild.add_member("mod2", roles=[world.mods]),
        mod3=guild.add_member("mod3", roles=[world.mods]),
        mod_creator=guild.add_member("modcreator", roles=[world.mods, creators]),
        streamer=guild.add_member("streamer", roles=[streamers]),
    )


@pytest_asyncio.fixture
async def clip_services(services: Services, clip_world: ClipWorld, tmp_path: Path) -> Services:
    # The double serves attachments on 127.0.0.1: allow that here (never in production).
    services.settings = services.settings.model_copy(
        update={"clip_allow_private_hosts": True, "clip_download_timeout_s": 1.0}
    )
    await services.http.aclose()  # the client Services.open builds from that setting
    services.http = outbound_client(allow_private=services.settings.clip_allow_private_hosts)
    await services.guild_configs.update(
        clip_world.guild.id,
        review_channel=clip_world.review.id,
        showcase_channel=clip_world.showcase.id,
        creator_roles=(clip_world.creators.id,),
        streamer_role=clip_world.streamers.id,
    )
    return services


# --- what members do -----------------------------------------------------------------------


async def submit(cw: ClipWorld, member, data: bytes | None = None, **options):
    """/clip submit as `member` (a file if `data`); returns (interaction, its final reply)."""
    values = {"title": TITLE, "prompt": PROMPT, "tool": "Sora 2", "use": "alert", **options}
    if data is not None:
        values["file"] = upload(data)
    inter = await cw.double.slash_command(cw.guild, cw.general, member, "clip submit", values)
    return inter, await inter.wait_message(timeout=10)


async def command(cw: ClipWorld, member, name: str, options: dict | None = None, **kwargs):
    """Any slash command in #general; returns (interaction, its final reply)."""
    inter = await cw.double.slash_command(cw.guild, cw.general, member, name, options, **kwargs)
    return inter, await inter.wait_message(timeout=10)


async def open_modal(cw: ClipWorld, member, card, action: str, clip_id: int) -> dict:
    click = await cw.double.click(cw.guild, cw.review, member, card, f"review:{action}:{clip_id}")
    return await click.wait_modal()


async def submit_modal(cw: ClipWorld, member, modal: dict, values: dict):
    done = await cw.double.submit_modal(cw.guild, cw.review, member, modal["custom_id"], values)
    return done, await done.wait_message(timeout=10)


async def approve(cw: ClipWorld, member, card, clip_id: int, passed=ALL_FINE, **more):
    modal = await open_modal(cw, member, card, "approve", clip_id)
    return await submit_modal(cw, member, modal, {"passed": list(passed), **more})


async def decide(cw: ClipWorld, member, card, action: str, clip_id: int, reason: str):
    modal = await open_modal(cw, member, card, action, clip_id)
    return await submit_modal(cw, member, modal, {"reason": reason})


async def refused(cw: ClipWorld, member, card, action: str, clip_id: int) -> str:
    """Click a card button that must be refused at once (no modal); the private reply."""
    click = await cw.double.click(cw.guild, cw.review, member, card, f"review:{action}:{clip_id}")
    reply = await click.wait_message()
    assert click.ephemeral and click.modal is None
    return reply.content
