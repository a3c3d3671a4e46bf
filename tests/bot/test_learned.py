"""Learned answers over the wire: who confirms, what a later paraphrase gets, how it is undone,
`/kb learned`, and that nothing crosses guilds."""

from __future__ import annotations

import discord
import pytest

from ingest.loaders import FolderSource
from tests.bot.answer_fixtures import (
    ALWAYS_ANSWER,
    ALWAYS_DECLINE,
    ALWAYS_SUGGEST,
    VAGUE,
    ask,
    force_tier,
    pick_number,
)
from tests.bot.conftest import ANSWERABLE, greenroom, open_services

pytestmark = pytest.mark.asyncio

PARAPHRASE = "what did you use to make the neon intro?"  # cosine 0.95 to ANSWERABLE
CONFIRMED = "confirmed before"  # in the footer of a learned answer


async def mod_answers_from_notes(world, asker, question: str):
    """A fan asks in #general; a mod answers that message from the notes."""
    target = await world.double.send_message(world.guild, world.general, asker, question)
    menu = await world.double.context_menu(
        world.guild, world.general, world.mod, "Answer from notes", target
    )
    return await menu.wait_message(timeout=10)


async def test_a_mods_confirmation_answers_a_paraphrase_with_the_learned_passage(world, services):
    force_tier(services, ALWAYS_ANSWER)
    async with greenroom(world, services):
        done = await mod_answers_from_notes(world, world.fan, ANSWERABLE)
        assert "Answered" in done.content and "learned answer #1" in done.content
        # From now on the model alone would only suggest: the answer below is the learned one.
        force_tier(services, ALWAYS_SUGGEST)
        card = await ask(world, world.fan2, PARAPHRASE)
        logged = await services.questions.get(2)
    assert "Sora 2" in card.embed["description"]
    assert CONFIRMED in card.embed["footer"]["text"]
    assert card.custom_ids == ["answer:up:2", "answer:down:2", "answer:mod:2"]
    assert logged.mode == "answer" and logged.learned_id == 1


async def test_one_fan_alone_is_not_enough_two_fans_are(world, tmp_path, embedder, notes_dir):
    fan3 = world.guild.add_member("fan3")
    async with (
        open_services(
            tmp_path / "data", embedder, world, notes_dir, confidence=ALWAYS_SUGGEST
        ) as services,
        greenroom(world, services),
    ):

        async def ask_and_pick(member, question: str, question_id: int) -> str:
            card = await ask(world, member, question)
            assert card.embed["description"].startswith("I'm not sure"), card.embed
            number = pick_number(card, "Neon city intro › Prompt")
            click = await world.double.click(
                world.guild, world.general, member, card, f"answer:pick:{question_id}:{number}"
            )
            return (await click.wait_message(timeout=10)).content

        assert "another fan" in await ask_and_pick(world.fan, ANSWERABLE, 1)
        # The same fan again, with other words: still one fan.
        assert "another fan" in await ask_and_pick(world.fan, PARAPHRASE, 2)
        [entry] = await services.learned_entries(world.guild.id)
        assert (entry.fan_votes, entry.active) == (1, False)

        # A second fan agrees: from now on it is the answer.
        assert "from now on" in await ask_and_pick(world.fan2, "how did u make the neon intro", 3)
        card = await ask(world, fan3, "how did you make your neon intro?")
        [entry] = await services.learned_entries(world.guild.id)
    assert "Sora 2" in card.embed["description"] and CONFIRMED in card.embed["footer"]["text"]
    assert (entry.question, entry.fan_votes, entry.active) == (ANSWERABLE, 2, True)


async def test_a_thumbs_down_from_the_asker_undoes_a_learned_answer(world, services):
    force_tier(services, ALWAYS_ANSWER)
    async with greenroom(world, services):
        await mod_answers_from_notes(world, world.fan, ANSWERABLE)
        force_tier(services, ALWAYS_SUGGEST)
        card = await ask(world, world.fan2, PARAPHRASE)
        assert CONFIRMED in card.embed["footer"]["text"]

        bystander = await world.double.click(
            world.guild, world.general, world.fan, card, "answer:down:2"
        )
        assert "noted" in (await bystander.wait_message(timeout=10)).content
        assert len(await services.learned_entries(world.guild.id)) == 1  # a rating only

        asker = await world.double.click(
            world.guild, world.general, world.fan2, card, "answer:down:2"
        )
        reply = await asker.wait_message(timeout=10)
        assert "any more" in reply.content
        assert await services.learned_entries(world.guild.id) == []
        again = await ask(world, world.fan2, PARAPHRASE)
    assert again.embed["description"].startswith("I'm not sure")  # back to the model's tier


async def test_the_askers_thumbs_up_confirms_and_their_thumbs_down_takes_it_back(world, services):
    force_tier(services, ALWAYS_ANSWER)
    async with greenroom(world, services):
        card = await ask(world, world.fan, ANSWERABLE)
        up = await world.double.click(world.guild, world.general, world.fan, card, "answer:up:1")
        assert "another fan" in (await up.wait_message(timeout=10)).content
        [entry] = await services.learned_entries(world.guild.id)
        assert (entry.question, entry.heading, entry.fan_votes) == (ANSWERABLE, "Prompt", 1)

        down = await world.double.click(
            world.guild, world.general, world.fan, card, "answer:down:1"
        )
        assert "any more" in (await down.wait_message(timeout=10)).content
        assert await services.learned_entries(world.guild.id) == []

        # A mod's 👍 on a fan's answer counts at once.
        mod_up = await world.double.click(
            world.guild, world.general, world.mod, card, "answer:up:1"
        )
        assert "from now on" in (await mod_up.wait_message(timeout=10)).content
    [entry] = await services.learned_entries(world.guild.id)
    assert (entry.mod_votes, entry.active) == (1, True)


async def test_answer_and_add_to_notes_teaches_the_question(world, services):
    question = "what keyboard do you use on stream?"
    force_tier(services, ALWAYS_DECLINE)
    async with greenroom(world, services):
        declined = await ask(world, world.fan, question)
        assert "don't cover" in declined.embed["description"]
        gaps = await world.double.slash_command(world.guild, world.general, world.mod, "kb gaps")
        listing = await gaps.wait_message(timeout=10)
        click = await world.double.click(
            world.guild, world.general, world.mod, listing, "gap:answer:1"
        )
        modal = await click.wait_modal()
        submit = await world.double.submit_modal(
            world.guild,
            world.general,
            world.mod,
            modal["custom_id"],
            {"answer": "A Keychron Q1 with brown switches, on a foam mat."},
        )
        assert "Added to the notes" in (await submit.wait_message(timeout=15)).content
        [entry] = await services.learned_entries(world.guild.id)
        assert (entry.question, entry.title, entry.mod_votes) == (question, question, 1)

        force_tier(services, ALWAYS_SUGGEST)
        card = await ask(world, world.fan2, "what keyboard are you using on stream?")
    assert "Keychron Q1" in card.embed["description"]
    assert CONFIRMED in card.embed["footer"]["text"]


async def test_kb_learned_lists_and_removes_entries_of_its_own_guild_only(
    world, services, notes_dir
):
    boss_role = world.other_guild.add_role(
        "Admins", permissions=discord.Permissions(manage_guild=True, manage_messages=True)
    )
    boss = world.other_guild.add_member("boss", roles=[boss_role])
    elsewhere = world.other_guild.add_text_channel("chat")
    # The other server has the very same notes in its own knowledge base.
    services.kb(world.other_guild.id).sync([FolderSource(notes_dir)])
    force_tier(services, ALWAYS_ANSWER)
    async with greenroom(world, services):
        await mod_answers_from_notes(world, world.fan, ANSWERABLE)
        force_tier(services, ALWAYS_SUGGEST)
        card = await ask(world, world.fan2, VAGUE)  # a fan's pick: waits for a second fan
        click = await world.double.click(
            world.guild,
            world.general,
            world.fan2,
            card,
            f"answer:pick:2:{pick_number(card, 'Neon city intro › Editing')}",
        )
        await click.wait_message(timeout=10)

        denied = await world.double.slash_command(
            world.guild, world.general, world.fan, "kb learned list", check_permissions=False
        )
        assert "Only moderators" in (await denied.wait_message()).content
        listing = await world.double.slash_command(
            world.guild, world.general, world.mod, "kb learned list"
        )
        text = (await listing.wait_message()).text
        assert listing.ephemeral
        assert f"**#1** “{ANSWERABLE}” → Neon city intro › Prompt" in text
        assert "1 mod · active" in text
        assert f"**#2** “{VAGUE}” → Neon city intro › Editing" in text
        assert "1 fan · waiting for 1 more fan(s)" in text

        choices = await world.double.autocomplete(
            world.guild, world.general, world.mod, "kb learned remove", "id", "neon"
        )
        assert [c["value"] for c in choices] == [1]

        # The other server: nothing learned there, its id 1 is not this server's #1, and its
        # fans get the model's tier for the same question, never this server's learned answer.
        other_list = await world.double.slash_command(
            world.other_guild, elsewhere, boss, "kb learned list"
        )
        assert "Nothing learned yet" in (await other_list.wait_message()).text
        other_remove = await world.double.slash_command(
            world.other_guild, elsewhere, boss, "kb learned remove", {"id": 1}
        )
        assert "no learned answer #1" in (await other_remove.wait_message()).content
        other_card = await world.double.slash_command(
            world.other_guild, elsewhere, world.outsider, "ask", {"question": PARAPHRASE}
        )
        assert CONFIRMED not in (await other_card.wait_message(timeout=10)).text
        assert len(await services.learned_entries(world.guild.id)) == 2

        removed = await world.double.slash_command(
            world.guild, world.general, world.mod, "kb learned remove", {"id": 1}
        )
        assert "Forgot learned answer #1" in (await removed.wait_message(timeout=10)).content
        after = await ask(world, world.fan2, PARAPHRASE)
    assert CONFIRMED not in after.text
    assert [e.id for e in await services.learned_entries(world.guild.id)] == [2]


async def test_a_follow_up_is_learned_with_the_question_it_follows(world, services):
    async with greenroom(world, services) as bot:
        mark = world.double.mark()
        await world.double.send_message(
            world.guild, world.general, world.fan, f"<@{bot.user.id}> {ANSWERABLE}"
        )
        first = await world.double.wait_for_message(world.general, after=mark, timeout=10)
        mark = world.double.mark()
        await world.double.send_message(
            world.guild, world.general, world.fan, "which one did you pick?", reference=first
        )
        follow = await world.double.wait_for_message(world.general, after=mark, timeout=10)
        assert "generation 9" in follow.embed["description"]
        up = await world.double.click(world.guild, world.general, world.fan, follow, "answer:up:2")
        await up.wait_message(timeout=10)
        [entry] = await services.learned_entries(world.guild.id)
    # "which one did you pick?" alone must never become an answer: the pair is what was asked.
    assert entry.question == f"{ANSWERABLE} which one did you pick?"
