"""How answers look in Discord (and, as text, in `greenroom console`): one look per tier."""

from __future__ import annotations

import re

import discord

from knowledge import ANSWER, NOT_SURE_WRITTEN, SUGGEST, Answer, Citation

MAX_SOURCES = 5
ANSWER_COLOUR = discord.Colour.from_rgb(76, 175, 80)
SUGGEST_COLOUR = discord.Colour.from_rgb(255, 179, 0)
ABSTAIN_COLOUR = discord.Colour.from_rgb(158, 158, 158)
WRITING_COLOUR = discord.Colour.from_rgb(96, 125, 139)  # a written answer still arriving


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: cut, with an ellipsis, when it is longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Text from notes or members shown as it is written, never as Discord markdown."""
    return discord.utils.escape_markdown(text)


def _cited(citation: Citation, limit: int) -> str:
    label = escape(shorten(citation.label, limit))
    return f"[{label}]({citation.url})" if citation.url else label


def answer_embed(answer: Answer) -> discord.Embed:
    embed = discord.Embed(title=shorten(escape(answer.question), 256))
    if answer.mode == ANSWER:
        embed.colour = ANSWER_COLOUR
        embed.description = shorten(escape(answer.text), 4000)
        # A written answer lists the passages it cites, under the numbers its [n] use.
        numbers = sorted(answer.cited) if answer.written else range(1, MAX_SOURCES + 1)
        lines = [
            f"{n}. {_cited(answer.citations[n - 1], 120)}"
            for n in numbers
            if 1 <= n <= min(len(answer.citations), MAX_SOURCES)
        ]
        if lines:
            embed.add_field(name="Sources", value=shorten("\n".join(lines), 1024), inline=False)
        confirmed = " · confirmed before for a question like this" if answer.learned else ""
        origin = (
            "Written by a language model from the streamer's notes"
            if answer.written
            else "From the streamer's notes"
        )
        embed.set_footer(text=f"{origin}{confirmed} · confidence {answer.confidence:.0%}")
    elif answer.mode == SUGGEST:
        embed.colour = SUGGEST_COLOUR
        embed.description = shorten(answer.text, 4000)
        if answer.written:  # hedged: the model's text over the passages it cites
            embed.description = shorten(f"{NOT_SURE_WRITTEN}\n\n{escape(answer.text)}", 4000)
        for n, s in enumerate(answer.suggestions, start=1):
            source = f"\n— {_cited(s, 200)}" if s.url else ""  # the name holds the label
            embed.add_field(
                name=shorten(f"{n}. {escape(s.label)}", 256),
                value=shorten(escape(s.passage), 1024 - len(source)) + source,
                inline=False,
            )
        written = "Written by a language model from the notes below. " if answer.written else ""
        embed.set_footer(
            text=f"{written}If one of these answers it, press its “answered it” button."
            " Otherwise a mod can answer: use “Ask a mod” below."
        )
    else:
        embed.colour = ABSTAIN_COLOUR
        embed.description = shorten(answer.text, 4000)
        embed.set_footer(text="A mod can answer this one. Use “Ask a mod” below.")
    return embed


def writing_embed(question: str, text: str) -> discord.Embed:
    """A written answer while it arrives: the checked sentences so far, no buttons yet."""
    embed = discord.Embed(title=shorten(escape(question), 256), colour=WRITING_COLOUR)
    embed.description = shorten(escape(text), 4000 - 2) + " …"
    embed.set_footer(text="Writing from the streamer's notes…")
    return embed


_ESCAPED = re.compile(r"\\([\\*_`~|>#\-\[])")


def embed_as_text(embed: discord.Embed) -> str:
    """The embed as plain text, for the console (markdown escapes removed, as Discord shows)."""
    parts = [f"== {embed.title} ==", embed.description or ""]
    for field in embed.fields:
        parts += ["", f"{field.name}:", field.value]
    if embed.footer and embed.footer.text:
        parts += ["", f"({embed.footer.text})"]
    return _ESCAPED.sub(r"\1", "\n".join(parts))
