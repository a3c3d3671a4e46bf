"""Fans ask over the wire: /ask, buttons, mentions, follow-ups, guard rails, isolation."""

from __future__ import annotations

import pytest

from tests.bot.conftest import ANSWERABLE, UNCOVERED, greenroom

pytestmark = pytest.mark.asyncio


async def test_ask_answers_with_sources_and_buttons(world, services):
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": ANSWERABLE}
        )
        msg = await inter.wait_message(timeout=10)
        assert not inter.ephemeral
        embed = msg.embed
        assert embed["title"] == ANSWERABLE
        assert "Sora 2" in embed["description"]
        sources = next(f for f in embed["fields"] if f["name"] == "Sources")
        assert "Neon city intro" in sources["value"]
        assert set(msg.custom_ids) == {f"answer:{a}:1" for a in ("up", "down", "mod")}
        assert msg.allowed_mentions == {"parse": []}


async def test_uncovered_question_abstains_and_offers_a_mod(world, services):
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": UNCOVERED}
        )
        msg = await inter.wait_message(timeout=10)
        assert "don't cover" in msg.embed["description"]
        assert msg.custom_ids == ["answer:mod:1"]
    gaps = await services.questions.open_gaps(world.guild.id)
    assert [g.question for g in gaps] == [UNCOVERED]


async def test_private_notes_are_never_quoted(world, services):
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.guild,
            world.general,
            world.fan,
            "ask",
            {"question": "what is the codename of the Kestrel Audio sponsor trailer?"},
        )
        msg = await inter.wait_message(timeout=10)
        assert "MARIGOLD" not in msg.text


async def test_mentions_in_questions_ping_nobody(world, services):
    question = f"@everyone <@&{world.mods.id}> <@{world.fan2.id}> how did you make the neon intro?"
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": question}
        )
        msg = await inter.wait_message(timeout=10)
        assert msg.allowed_mentions == {"parse": []}
        assert "@everyone" in msg.embed["title"]


async def test_long_question_gets_a_private_readable_refusal(world, services):
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": "why " * 1000}
        )
        msg = await inter.wait_message()
        assert inter.ephemeral
        assert "characters long" in msg.content
    assert await services.questions.open_gaps(world.guild.id) == []


async def test_cooldown_answers_kindly(world, services):
    await services.guild_configs.update(world.guild.id, user_cooldown_seconds=60)
    async with greenroom(world, services):
        first = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": ANSWERABLE}
        )
        await first.wait_message(timeout=10)
        second = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": ANSWERABLE}
        )
        msg = await second.wait_message()
        assert second.ephemeral and "asking quickly" in msg.content
        other = await world.double.slash_command(
            world.guild, world.general, world.fan2, "ask", {"question": ANSWERABLE}
        )
        assert not (await other.wait_message(timeout=10)).ephemeral


async def test_guild_isolation(world, services):
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.other_guild,
            world.other_guild.add_text_channel("chat"),
            world.outsider,
            "ask",
            {"question": ANSWERABLE},
        )
        msg = await inter.wait_message(timeout=10)
        assert "don't cover" in msg.embed["description"]
        assert "Sora" not in msg.text


async def test_votes_and_buttons_survive_a_restart(world, services):
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": ANSWERABLE}
        )
        answer = await inter.wait_message(timeout=10)
        click = await world.double.click(
            world.guild, world.general, world.fan2, answer, "answer:up:1"
        )
        assert "Glad it helped" in (await click.wait_message()).content
    async with greenroom(world, services):  # a new bot process: the old card still works
        click = await world.double.click(
            world.guild, world.general, world.fan2, answer, "answer:down:1"
        )
        msg = await click.wait_message()
        assert click.ephemeral and "noted" in msg.content
    gaps = await services.questions.open_gaps(world.guild.id)
    assert [g.id for g in gaps] == [1]  # the 👎 made it a gap


async def test_ask_a_mod_opens_a_thread_pinging_only_the_mod_role(world, services):
    question = "@everyone what is your favourite pizza topping?"
    async with greenroom(world, services):
        inter = await world.double.slash_command(
            world.guild, world.general, world.fan, "ask", {"question": question}
        )
        answer = await inter.wait_message(timeout=10)
        click = await world.double.click(
            world.guild, world.general, world.fan, answer, "answer:mod:1"
        )
        reply = await click.wait_message()
        assert click.ephemeral and "asked the mods" in reply.content
        thread = await world.double.wait_for_thread(world.general)
        ping = await world.double.wait_for_message(thread)
        assert f"<@&{world.mods.id}>" in ping.content
        allowed = ping.allowed_mentions
        assert allowed.get("parse") == []
        assert [str(r) for r in allowed["roles"]] == [str(world.mods.id)]
        assert [str(u) for u in allowed["users"]] == [str(world.fan.id)]


async def test_mention_and_follow_up(world, services):
    async with greenroom(world, services) as bot:
        mark = world.double.mark()
        await world.double.send_message(
            world.guild,
            world.general,
            world.fan,
            f"<@{bot.user.id}> how did you make the neon intro?",
        )
        answer = await world.double.wait_for_message(world.general, after=mark, timeout=10)
        assert "Sora 2" in answer.embed["description"]
        assert answer.allowed_mentions.get("parse") == []
        mark = world.double.mark()
        await world.double.send_message(
            world.guild, world.general, world.fan, "which one did you pick?", reference=answer
        )
        follow = await world.double.wait_for_message(world.general, after=mark, timeout=10)
        # "which one" only makes sense with the first question: the reply is read together with it.
        assert follow.embed["title"] == "which one did you pick?"
        assert "generation 9" in follow.embed["description"]


async def test_context_menu_is_for_mods_only(world, services):
    async with greenroom(world, services):
        target = await world.double.send_message(
            world.guild, world.general, world.fan2, "how did you make the neon intro?"
        )
        # A server override could show the menu to anyone: the bot checks again itself.
        denied = await world.double.context_menu(
            world.guild,
            world.general,
            world.fan,
            "Answer from notes",
            target,
            check_permissions=False,
        )
        refusal = await denied.wait_message()
        assert denied.ephemeral and "Only moderators" in refusal.content
        allowed = await world.double.context_menu(
            world.guild, world.general, world.mod, "Answer from notes", target
        )
        done = await allowed.wait_message(timeout=10)
        assert allowed.ephemeral and "Answered" in done.content
        reply = await world.double.wait_for_message(
            world.general, lambda m: m.reference_id == target.id, timeout=5
        )
        assert "Sora 2" in reply.embed["description"]


async def test_a_follow_up_to_a_long_question_is_answered(world, services):
    # The first question is close to the 500-character limit; with the reply it passes it.
    padding = " I keep wondering about it every single time the stream starts up."
    long_question = UNCOVERED + padding * 7
    assert 450 < len(long_question) <= 500
    async with greenroom(world, services) as bot:
        mark = world.double.mark()
        await world.double.send_message(
            world.guild, world.general, world.fan, f"<@{bot.user.id}> {long_question}"
        )
        answer = await world.double.wait_for_message(world.general, after=mark, timeout=10)
        assert "don't cover" in answer.embed["description"]
        mark = world.double.mark()
        reply = await world.double.send_message(
            world.guild, world.general, world.fan, "and on fridays?", reference=answer
        )
        follow = await world.double.wait_for_message(world.general, after=mark, timeout=10)
        assert follow.reference_id == reply.id
        assert follow.embed["title"] == "and on fridays?"

        # Every other way in with a question over the limit says so.
        too_long = "why " * 200
        for text, reference in ((f"<@{bot.user.id}> {too_long}", None), (too_long, answer)):
            sent = await world.double.send_message(
                world.guild, world.general, world.fan, text, reference=reference
            )
            refusal = await world.double.wait_for_message(
                world.general, lambda m, sent=sent: m.reference_id == sent.id, timeout=10
            )
            assert "characters long" in refusal.content
        long_message = await world.double.send_message(
            world.guild, world.general, world.fan2, too_long
        )
        menu = await world.double.context_menu(
            world.guild, world.general, world.mod, "Answer from notes", long_message
        )
        assert "characters long" in (await menu.wait_message()).content and menu.ephemeral
    logged = await services.questions.open_gaps(world.guild.id)
    assert {q.question for q in logged} == {long_question, "and on fridays?"}


async def test_a_follow_up_read_with_its_question_stays_within_the_limit() -> None:
    from bot.exts.ask._cog import with_first_question
    from knowledge.base import MAX_QUESTION_CHARS, check_question

    first = check_question("how did you make the neon intro " * 15)
    for follow_up in ("which one?", "and the moth " * 30):
        follow_up = check_question(follow_up)
        combined = with_first_question(first, follow_up)
        assert check_question(combined) == combined and len(combined) <= MAX_QUESTION_CHARS
        assert combined.endswith(follow_up)
    assert with_first_question("how did you make the intro?", "which one?") == (
        "how did you make the intro? which one?"
    )
