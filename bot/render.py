"""How answers look in Discord (and, as text, in `greenroom console`)."""

from __future__ import annotations

import discord

from knowledge.answer import Answer

MAX_SOURCES = 5
ANSWER_COLOUR = discord.Colour.from_rgb(76, 175, 80)
ABSTAIN_COLOUR = discord.Colour.from_rgb(158, 158, 158)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def answer_embed(answer: Answer) -> discord.Embed:
    embed = discord.Embed(
        title=_clip(answer.question, 256),
        description=_clip(answer.text, 4000),
        colour=ABSTAIN_COLOUR if answer.abstained else ANSWER_COLOUR,
    )
    if not answer.abstained and answer.citations:
        lines = []
        for n, citation in enumerate(answer.citations[:MAX_SOURCES], start=1):
            label = discord.utils.escape_markdown(_clip(citation.label, 120))
            lines.append(f"{n}. [{label}]({citation.url})" if citation.url else f"{n}. {label}")
        embed.add_field(name="Sources", value=_clip("\n".join(lines), 1024), inline=False)
    if answer.abstained:
        embed.set_footer(text="A mod can answer this one. Use “Ask a mod” below.")
    else:
        embed.set_footer(text=f"From the streamer's notes · confidence {answer.confidence:.0%}")
    return embed


def embed_as_text(embed: discord.Embed) -> str:
    """The embed as plain text, for the console."""
    parts = [f"== {embed.title} ==", embed.description or ""]
    for field in embed.fields:
        parts += ["", f"{field.name}:", field.value]
    if embed.footer and embed.footer.text:
        parts += ["", f"({embed.footer.text})"]
    return "\n".join(parts)
