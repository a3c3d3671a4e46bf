"""knowledge/ and ingest/ never import discord or bot: data flows files -> ingest -> knowledge
<- bot, and the bot calls them off the event loop (bot/clips has its own check)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("knowledge", "ingest")
FORBIDDEN = ("discord", "bot")


def _absolute_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_discord_or_bot(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        for name in _absolute_imports(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN, f"{path.relative_to(ROOT)} imports {name}"


def test_importing_every_module_loads_neither_discord_nor_bot() -> None:
    """Also catches an import hidden behind a third package or importlib."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"for package in {PACKAGES!r}:\n"
        "    top = importlib.import_module(package)\n"
        "    for module in pkgutil.walk_packages(top.__path__, package + '.'):\n"
        "        importlib.import_module(module.name)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def test_the_source_registry_does_not_import_the_knowledge_base_back() -> None:
    """knowledge/base.py imports the registry; the registry asks only for what it uses."""
    names = _absolute_imports(ROOT / "knowledge" / "source_registry.py")
    assert "knowledge.base" not in names
    assert "_sync_lock" not in (ROOT / "knowledge" / "source_registry.py").read_text()
