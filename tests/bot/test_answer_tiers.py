"""Each answer tier over the wire: its look, its buttons, and "N answered it" after a restart.

Suggest and decline are forced with a ConfidenceModel of the test's own (the fitted thresholds
are not what these tests are about)."""

from __future__ import annotations

import asyncio

import pytest

from bot.render import ABSTAIN_COLOUR, ANSWER_COLOUR, SUGGEST_COLOUR
from knowledge.answer import NOT_COVERED, NOT_SURE
from tests.bot.answer_fixtures import (
    ALWAYS_ANSWER,
    ALWAYS_DECLINE,
    ALWAYS_SUGGEST,
    VAGUE,
    ask,
    pick_number,
)
from tests.bot.conftest import ANSWERABLE, greenroom, open_services

pytestmark = pytest.mark.asyncio


async def test_answer_tier_is_green_with_sources_votes_and_confidence(world, services):
    async with greenroom(world, services):
        card = await ask(world, world.fan, ANSWERABLE)
    assert card.embed["color"] == ANSWER_COLOUR.value
    assert "Sora 2" in card.embed["description"]
    assert any(f["name"] == "Sources" for f in card.embed["fields"])
    footer = card.embed["footer"]["text"]
    assert "confidence" in footer and "confirmed before" not in footer
    assert card.custom_ids == ["answer:up:1", "answer:down:1", "answer:mod:1"]
    logged = await services.questions.get(1)
    assert logged.mode == "answer" and len(logged.shown_chunks) == 1 and logged.learned_id is None


async def test_suggest_tier_is_amber_with_numbered_passages_and_a_button_each(
    world, tmp_path, embedder, notes_dir
):
    async with (
        open_services(
            tmp_path / "data", embedder, world, notes_dir, confidence=ALWAYS_SUGGEST
        ) as services,
        greenroom(world, services),
    ):
        card = await ask(world, world.fan, VAGUE)
        logged = await services.questions.get(1)
        stats = await world.double.slash_command(world.guild, world.general, world.mod, "kb stats")
        assert (
            "1 asked · 0 answered · 1 suggested · 0 not covered"
            in (await stats.wait_message()).text
        )
    embed = card.embed
    assert embed["color"] == SUGGEST_COLOUR.value
    assert embed["description"] == NOT_SURE
    fields = embed["fields"]
    assert [f["name"][:3] for f in fields] == ["1. ", "2. ", "3. "]
    prompt = fields[pick_number(card, "Neon city intro › Prompt") - 1]
    assert prompt["name"].endswith(". Neon city intro › Prompt") and "Sora 2" in prompt["value"]
    assert "answered it" in embed["footer"]["text"]
    assert card.custom_ids == [
        "answer:pick:1:1",
        "answer:pick:1:2",
        "answer:pick:1:3",
        "answer:mod:1",
    ]
    labels = [c["label"] for row in card.components for c in row["components"]]
    assert labels == ["1 answered it", "2 answered it", "3 answered it", "Ask a mod"]
    assert card.allowed_mentions == {"parse": []}
    assert logged.mode == "suggest" and logged.outcome == "abstained"
    assert len(set(logged.shown_chunks)) == 3  # what each button points at, in order


async def test_decline_tier_is_grey_and_only_offers_a_mod(world, tmp_path, embedder, notes_dir):
    async with (
        open_services(
            tmp_path / "data", embedder, world, notes_dir, confidence=ALWAYS_DECLINE
        ) as services,
        greenroom(world, services),
    ):
        card = await ask(world, world.fan, ANSWERABLE)
        logged = await services.questions.get(1)
    assert card.embed["color"] == ABSTAIN_COLOUR.value
    assert card.embed["description"] == NOT_COVERED
    assert "fields" not in card.embed or card.embed["fields"] == []
    assert "Sora" not in card.text  # a declined passage is never shown
    assert card.custom_ids == ["answer:mod:1"]
    assert logged.mode == "decline" and logged.shown_chunks == ()


async def test_text_from_notes_and_fans_is_shown_not_rendered(world, tmp_path, embedder, notes_dir):
    (notes_dir / "overlay.md").write_text(
        "---\ntitle: Overlay pack\nurl: https://pixelmoth.example/overlay\n---\n# Overlay pack\n"
        "The stream overlay is **OBS** with [the free pack](https://evil.example/pack).\n",
        encoding="utf-8",
    )
    async with (
        open_services(
            tmp_path / "data", embedder, world, notes_dir, confidence=ALWAYS_ANSWER
        ) as services,
        greenroom(world, services),
    ):
        card = await ask(world, world.fan, "what **stream overlay** do you use?")
    assert card.embed["title"] == r"what \*\*stream overlay\*\* do you use?"
    description = card.embed["description"]
    assert r"\*\*OBS\*\*" in description
    assert r"\[the free pack](https://evil.example/pack)" in description  # no masked link
    sources = next(f["value"] for f in card.embed["fields"] if f["name"] == "Sources")
    assert sources.startswith("1. [Overlay pack](https://pixelmoth.example/overlay)")


async def test_this_answered_it_works_after_a_restart(world, tmp_path, embedder, notes_dir):
    data = tmp_path / "data"
    async with (
        open_services(data, embedder, world, notes_dir, confidence=ALWAYS_SUGGEST) as services,
        greenroom(world, services),
    ):
        card = await ask(world, world.fan, VAGUE)
    number = pick_number(card, "Neon city intro › Prompt")

    # A new bot process: new client, new Services over the same data dir and database.
    async with (
        open_services(data, embedder, world, confidence=ALWAYS_SUGGEST) as services,
        greenroom(world, services),
    ):
        click = await world.double.click(
            world.guild, world.general, world.fan, card, f"answer:pick:1:{number}"
        )
        thanks = await click.wait_message(timeout=10)
        assert click.ephemeral
        assert f"suggestion {number} answered it" in thanks.content
        assert "another fan" in thanks.content  # one fan's word waits for a second fan
        entries = await services.learned_entries(world.guild.id)
        logged = await services.questions.get(1)
        gaps = await services.questions.open_gaps(world.guild.id)
    assert [(e.question, e.heading, e.fan_votes, e.active) for e in entries] == [
        (VAGUE, "Prompt", 1, False)
    ]
    assert entries[0].chunk_id == logged.shown_chunks[number - 1]
    assert logged.score == 1 and logged.confirmed_id == entries[0].id
    assert gaps == []  # a suggestion answered it: not a gap for the mods


async def test_only_the_asker_or_a_mod_confirms_and_one_pick_per_question(
    world, tmp_path, embedder, notes_dir
):
    async with (
        open_services(
            tmp_path / "data", embedder, world, notes_dir, confidence=ALWAYS_SUGGEST
        ) as services,
        greenroom(world, services),
    ):
        card = await ask(world, world.fan, VAGUE)
        prompt = pick_number(card, "Neon city intro › Prompt")
        other = 1 if prompt != 1 else 2
        bystander = await world.double.click(
            world.guild, world.general, world.fan2, card, f"answer:pick:1:{prompt}"
        )
        assert "answered it" in (await bystander.wait_message(timeout=10)).content
        assert await services.learned_entries(world.guild.id) == []  # a rating only

        mine = await world.double.click(
            world.guild, world.general, world.fan, card, f"answer:pick:1:{prompt}"
        )
        await mine.wait_message(timeout=10)
        again = await world.double.click(
            world.guild, world.general, world.fan, card, f"answer:pick:1:{other}"
        )
        refusal = await again.wait_message(timeout=10)
        assert again.ephemeral and f"Suggestion {prompt} was already confirmed" in refusal.content
        entries = await services.learned_entries(world.guild.id)
    assert [(e.heading, e.fan_votes) for e in entries] == [("Prompt", 1)]


async def test_auto_answers_post_only_the_answer_tier(world, tmp_path, embedder, notes_dir):
    async with open_services(
        tmp_path / "data", embedder, world, notes_dir, confidence=ALWAYS_SUGGEST
    ) as services:
        await services.guild_configs.update(
            world.guild.id, ask_channels=(world.ask.id,), auto_answer=True
        )
        async with greenroom(world, services):
            mark = world.double.mark()
            await world.double.send_message(world.guild, world.ask, world.fan, VAGUE)
            for _ in range(100):
                if (logged := await services.questions.get(1)) is not None:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            bot_id = world.double.bot_user.id
            posted = [
                m for m in world.double.messages(world.ask) if m.id > mark and m.author_id == bot_id
            ]
    assert logged.mode == "suggest" and logged.outcome == "silent"
    assert posted == [] and world.ask.threads == []
