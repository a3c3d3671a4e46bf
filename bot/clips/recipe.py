"""An approved clip's recipe as a Markdown document for the guild's knowledge base.

Fans ask "how did you make that?"; the answer bot can then quote the prompt and settings.
A secret recipe becomes a document that says so and nothing more (no prompt, settings or notes),
so the bot can answer "the streamer keeps that one secret" instead of guessing.
"""

from __future__ import annotations

import json
import re

from bot.clips.models import Clip


def recipe_document_text(clip: Clip) -> tuple[str, str]:
    """(title, markdown) of the clip's recipe document."""
    name = _one_line(clip.title) or f"Clip #{clip.id}"
    title = f"Clip recipe: {name}"
    tool = _one_line(clip.tool) or "an unrecorded tool"
    lines = [
        f"# {title}",
        "",
        f"Clip #{clip.id} (version {clip.version}), made with {tool}, "
        f"used as: {_one_line(clip.use) or 'other'}.",
        "",
    ]
    if clip.secret:
        lines += [
            "## Recipe",
            "",
            "The streamer keeps this recipe secret: its prompt and settings are not shared.",
            "",
        ]
        return title, "\n".join(lines)
    lines += ["## Prompt", "", *_fenced(clip.prompt or "(no prompt recorded)"), ""]
    lines += ["## Tool", "", tool, ""]
    lines += ["## Settings", ""]
    if clip.settings:
        for key, value in sorted(clip.settings.items()):
            shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            lines.append(f"- {_one_line(str(key))}: {_one_line(str(shown))}")
    else:
        lines.append("No settings recorded.")
    lines.append("")
    if clip.notes.strip():
        lines += ["## Notes", "", clip.notes.strip(), ""]
    return title, "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fenced(text: str) -> list[str]:
    """A code fence longer than any backtick run in the text, so the text can't close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", text.strip(), fence]
