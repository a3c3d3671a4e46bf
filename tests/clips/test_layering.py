"""bot/clips is the domain layer: it must never import discord."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CLIPS = Path(__file__).resolve().parents[2] / "bot" / "clips"


def test_no_module_in_bot_clips_imports_discord() -> None:
    for path in sorted(CLIPS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "discord" or n.startswith("discord.") for n in names), path


def test_importing_bot_clips_does_not_load_discord() -> None:
    code = "import sys, bot.clips; print('discord' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=CLIPS.parents[1], capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr
