"""Mods and admins over the wire: setup, status, /kb commands, the gap loop, auto-answers."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from tests.bot.conftest import UNCOVERED, greenroom

pytestmark = pytest.mark.asyncio


async def test_setup_is_for_admins_and_status_shows_it(world, services):
    async with greenroom(world, services):
        denied = await world.double.slash_command(
            world.guild,
            world.general,
            world.fan,
            "greenroom setup auto-answer",
            {"enabled": True},
            check_permissions=False,
        )
        assert "Only server admins" in (await denied.wait_message()).content
        assert (await services.guild_configs.get(world.guild.id)).auto_answer is False

        done = await world.double.slash_command(
            world.guild,
            world.general,
            world.admin,
            "greenroom setup ask-channel",
            {"channel": world.ask},
        )
        assert "is now an ask channel" in (await done.wait_message()).content
        status = await world.double.slash_command(
            world.guild, world.general, world.admin, "greenroom status"
        )
        shown = (await status.wait_message()).text
        assert f"<#{world.ask.id}>" in shown and f"<@&{world.mods.id}>" in shown
    config = await services.guild_configs.get(world.guild.id)
    assert config.ask_channels == (world.ask.id,)


async def test_kb_commands_refuse_fans_and_serve_mods(world, services):
    async with greenroom(world, services):
        denied = await world.double.slash_command(
            world.guild, world.general, world.fan, "kb stats", check_permissions=False
        )
        assert "Only moderators" in (await denied.wait_message()).content

        stats = await world.double.slash_command(world.guild, world.general, world.mod, "kb stats")
        text = (await stats.wait_message()).text
        assert stats.ephemeral and "Documents" in text

        search = await world.double.slash_command(
            world.guild, world.general, world.mod, "kb search", {"query": "raid alert"}
        )
        found = await search.wait_message(timeout=10)
        assert search.ephemeral and "Raid alert" in found.text and "score" in found.text

        sources = await world.double.slash_command(
            world.guild, world.general, world.mod, "kb sources list"
        )
        assert "3 documents" in (await sources.wait_message()).content

        reload = await world.double.slash_command(
            world.guild, world.general, world.mod, "kb reload"
        )
        await reload.wait_message(timeout=10)
        await world.double.wait_until(
            lambda: "Reloaded" in (reload.messages[-1].content or ""), timeout=20, what="reload"
        )
        assert "unchanged 3" in reload.messages[-1].content


async def test_kb_search_names_private_notes_without_quoting_them(world, services):
    async with greenroom(world, services):
        search = await world.double.slash_command(
            world.guild, world.general, world.mod, "kb search", {"query": "sponsor trailer"}
        )
        found = (await search.wait_message(timeout=10)).embed
    private = [f for f in found["fields"] if "Sponsor trailer" in f["name"]]
    assert len(private) == 1, found
    assert "private" in private[0]["value"] and "secret.md" in private[0]["value"]
    shown = str(found)
    for secret in ("MARIGOLD", "Kestrel", "unreleased"):
        assert secret not in shown
    assert any("Neon city intro" in f["name"] and "Sora 2" in f["value"] for f in found["fields"])


async def test_gap_loop_end_to_end(world, services):
    question = "what keyboard do you use on stream?"
    async with greenroom(world, services):
        ask = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": question}
        )
        assert "don't cover" in (await ask.wait_message(timeout=10)).embed["description"]
        again = await world.double.slash_command(
            world.guild,
            world.general,
            world.fan2,
            "ask",
            {"question": "which keyboard do you use?"},
        )
        await again.wait_message(timeout=10)

        gaps = await world.double.slash_command(world.guild, world.general, world.mod, "kb gaps")
        listing = await gaps.wait_message(timeout=10)
        assert gaps.ephemeral and "asked 2×" in listing.text
        button = listing.custom_ids[0]
        assert button.startswith("gap:answer:")

        denied = await world.double.click(world.guild, world.general, world.fan, listing, button)
        assert "Only moderators" in (await denied.wait_message()).content

        click = await world.double.click(world.guild, world.general, world.mod, listing, button)
        modal = await click.wait_modal()
        [field] = [c for row in modal["components"] for c in row["components"]]
        assert field["custom_id"] == "answer" and field["label"].startswith("Answer: ")
        submit = await world.double.submit_modal(
            world.guild,
            world.general,
            world.mod,
            modal["custom_id"],
            {"answer": "A Keychron Q1 with brown switches, on a foam mat."},
        )
        done = await submit.wait_message(timeout=15)
        assert "Added to the notes" in done.content
        delivered = await world.double.wait_for_message(
            world.general, lambda m: "Keychron" in (m.content or ""), timeout=5
        )
        pinged = [str(u) for u in delivered.allowed_mentions.get("users", [])]
        assert pinged and set(pinged) <= {str(world.fan.id), str(world.fan2.id)}

        later = await world.double.slash_command(
            world.guild, world.general, world.fan2, "ask", {"question": "what keyboard do you use?"}
        )
        answer = await later.wait_message(timeout=10)
        assert "Keychron Q1" in answer.embed["description"]
    assert await services.questions.open_gaps(world.guild.id) == []


async def test_auto_answer_threads_confident_answers_and_stays_silent_otherwise(world, services):
    await services.guild_configs.update(
        world.guild.id,
        ask_channels=(world.ask.id,),
        auto_answer=True,
        auto_answer_min_confidence=0.4,
    )
    async with greenroom(world, services) as bot:
        await world.double.send_message(
            world.guild, world.ask, world.fan, "how did you make the neon intro?"
        )
        thread = await world.double.wait_for_thread(world.ask, timeout=10)
        answer = await world.double.wait_for_message(thread, timeout=5)
        assert "Sora 2" in answer.embed["description"]

        mark = world.double.mark()
        await world.double.send_message(world.guild, world.ask, world.fan2, UNCOVERED)
        await world.double.send_message(world.guild, world.ask, world.fan2, "nice stream today")
        # The uncovered question is recorded as a gap, and nothing is posted for it.
        await _wait_for_gap(services, world.guild.id, UNCOVERED)
        assert _bot_messages_after(world, world.ask, mark) == []
        assert len(world.ask.threads) == 1

        # After a mod replies in the thread, the bot stays quiet there.
        await _send_and_wait_until_handled(world, bot, thread, world.mod, "I'll take this one")
        mark = world.double.mark()
        await _send_and_wait_until_handled(
            world, bot, thread, world.fan, "how did you make the neon intro?"
        )
        assert _bot_messages_after(world, thread, mark) == []


async def _send_and_wait_until_handled(world, bot, channel, member, content: str) -> None:
    """Send a message, then wait until the bot's on_message listeners are done with it."""
    loop = asyncio.get_running_loop()
    listeners: asyncio.Future[list[asyncio.Task]] = loop.create_future()
    wanted = (channel.id, member.id, content)

    def collect() -> None:
        listeners.set_result(
            [t for t in asyncio.all_tasks() if t.get_name() == "discord.py: on_message"]
        )

    def check(message) -> bool:
        if (message.channel.id, message.author.id, message.content) != wanted:
            return False
        # The dispatch that calls this check goes on to start one task per listener (named so
        # by discord.py); a callback queued now runs after that, before any of them has run.
        loop.call_soon(collect)
        return True

    seen = asyncio.ensure_future(bot.wait_for("message", check=check))
    await world.double.send_message(world.guild, channel, member, content)
    tasks = await asyncio.wait_for(listeners, 10)
    assert tasks, "discord.py no longer names its listener tasks 'discord.py: on_message'"
    await asyncio.wait_for(asyncio.gather(*tasks, seen), 10)


async def _wait_for_gap(services, guild_id: int, question: str) -> None:
    for _ in range(100):
        if any(g.question == question for g in await services.questions.open_gaps(guild_id)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{question!r} was not recorded as a gap")


def _bot_messages_after(world, channel, mark: int) -> list:
    bot_id = world.double.bot_user.id
    return [m for m in world.double.messages(channel) if m.id > mark and m.author_id == bot_id]


async def test_auto_answer_in_a_forum_post_answers_inside_the_post(world, services):
    forum = world.guild.add_forum_channel("questions")
    await services.guild_configs.update(
        world.guild.id, ask_channels=(forum.id,), auto_answer=True, auto_answer_min_confidence=0.4
    )
    async with greenroom(world, services):
        post = world.guild.add_thread(forum, "neon intro?", owner=world.fan)
        await world.double.announce(post)
        await world.double.send_message(
            world.guild, post, world.fan, "how did you make the neon intro?"
        )
        answer = await world.double.wait_for_message(post, timeout=10)
        assert "Sora 2" in answer.embed["description"]
        assert forum.threads == [post]  # answered in the post, no new thread


async def test_every_setup_command_changes_its_setting(world, services):
    streamers = world.guild.add_role("Streamer")
    steps = [
        ("greenroom setup mod-role", {"role": streamers, "enabled": True}, "moderator role"),
        ("greenroom setup creator-role", {"role": streamers}, "may now submit clips"),
        ("greenroom setup review-channel", {"channel": world.general}, "Clip reviews"),
        ("greenroom setup log-channel", {"channel": world.logs}, "Mod notifications"),
        ("greenroom setup auto-answer", {"enabled": True, "min_confidence": 0.8}, "80%"),
        ("greenroom setup cooldown", {"seconds": 45, "per_minute": 12}, "45 s"),
        ("greenroom setup ask-channel", {"channel": world.ask, "enabled": False}, "no longer"),
    ]
    async with greenroom(world, services):
        await world.double.announce(streamers)
        for command, options, expected in steps:
            inter = await world.double.slash_command(
                world.guild, world.general, world.admin, command, options
            )
            reply = await inter.wait_message()
            assert inter.ephemeral and expected in reply.content, command
    config = await services.guild_configs.get(world.guild.id)
    assert streamers.id in config.mod_roles and config.creator_roles == (streamers.id,)
    assert config.review_channel == world.general.id and config.log_channel == world.logs.id
    assert config.auto_answer and config.auto_answer_min_confidence == 0.8
    assert (config.user_cooldown_seconds, config.guild_questions_per_minute) == (45, 12)
    assert config.ask_channels == ()


async def test_sync_commands_pushes_the_tree_to_one_guild(world, services):
    from bot.app import sync_commands
    from tests.discord_double.fixtures import patched_discord

    settings = services.settings.model_copy(update={"discord_token": SecretStr("test-token")})
    with patched_discord(world.double):
        names = await sync_commands(settings, world.guild.id, services=services)
    assert {"ask", "kb", "greenroom", "Answer from notes"} <= set(names)
    synced = {c["name"] for c in world.double.commands(world.guild)}
    assert synced == set(names)
