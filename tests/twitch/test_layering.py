"""bot/twitch is the Twitch layer: it never imports discord (the glue is bot/exts/twitch)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_in_bot_twitch_imports_discord() -> None:
    files = sorted((ROOT / "bot" / "twitch").rglob("*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "discord" for n in names), path


def test_importing_bot_twitch_does_not_load_discord() -> None:
    code = (
        "import importlib, pkgutil, sys, bot.twitch\n"
        "for m in pkgutil.walk_packages(bot.twitch.__path__, 'bot.twitch.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('discord' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
