"""The recipe document added to the knowledge base after approval."""

from __future__ import annotations

from bot.clips import ReviewQueue, recipe_document_text
from tests.clips.conftest import GUILD, SUBMITTER, draft


async def test_recipe_has_prompt_tool_settings_and_notes(queue: ReviewQueue) -> None:
    clip = await queue.submit(
        GUILD,
        SUBMITTER,
        draft(
            "Neon raid alert",
            prompt="A neon city at night, camera flies through ```code``` signs",
            tool="Sora",
            settings={"seed": 42, "duration": "10s", "style": {"grain": 0.2}},
            notes="Re-rolled three times; the second take had a warped logo.",
        ),
    )
    title, markdown = recipe_document_text(clip)
    assert title == "Clip recipe: Neon raid alert"
    assert markdown.startswith("# Clip recipe: Neon raid alert\n")
    for heading in ("## Prompt", "## Tool", "## Settings", "## Notes"):
        assert heading in markdown
    assert "````text\nA neon city at night, camera flies through ```code``` signs\n````" in markdown
    assert "- seed: 42" in markdown
    assert '- style: {"grain": 0.2}' in markdown
    assert "Re-rolled three times" in markdown
    assert "made with Sora" in markdown


async def test_secret_recipe_keeps_prompt_and_settings_out(queue: ReviewQueue) -> None:
    clip = await queue.submit(
        GUILD,
        SUBMITTER,
        draft(prompt="my secret sauce", settings={"seed": 1234}, notes="private", secret=True),
    )
    title, markdown = recipe_document_text(clip)
    assert title == "Clip recipe: Neon raid alert"
    assert "keeps this recipe secret" in markdown
    for leaked in ("secret sauce", "1234", "private", "## Prompt", "## Settings"):
        assert leaked not in markdown


async def test_sparse_clip_still_reads_well(queue: ReviewQueue) -> None:
    clip = await queue.submit(GUILD, SUBMITTER, draft("Intro\nwith newline", prompt="", tool=""))
    title, markdown = recipe_document_text(clip)
    assert title == "Clip recipe: Intro with newline"
    assert "made with an unrecorded tool" in markdown
    assert "(no prompt recorded)" in markdown
    assert "No settings recorded." in markdown
    assert "## Notes" not in markdown
