"""The bot and the command line use `knowledge`'s public surface: they never reach into a
knowledge base's catalog (SQLite) or its vector store (chromadb) themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import knowledge

ROOT = Path(__file__).resolve().parents[1]
HIDDEN_ATTRIBUTES = {"catalog", "collection"}  # KnowledgeBase's insides
HIDDEN_MODULES = ("chromadb", "knowledge.catalog")


def test_every_public_name_is_importable() -> None:
    assert len(knowledge.__all__) == len(set(knowledge.__all__))
    for name in knowledge.__all__:
        assert getattr(knowledge, name, None) is not None, name
    namespace: dict[str, object] = {}
    exec("from knowledge import *", namespace)
    assert set(knowledge.__all__) <= namespace.keys()


def _touches(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in HIDDEN_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        for module in modules:
            if any(module == m or module.startswith(m + ".") for m in HIDDEN_MODULES):
                found.append(f"line {node.lineno}: imports {module}")
    return found


def test_bot_never_touches_the_catalog_or_chroma() -> None:
    files = sorted((ROOT / "bot").rglob("*.py"))
    assert files
    found = {str(p.relative_to(ROOT)): t for p in files if (t := _touches(p))}
    assert found == {}, "use KnowledgeBase / KnowledgeService methods instead"


def test_the_scan_sees_a_catalog_call(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import chromadb\nkb.catalog.sources()\nkb.collection.count()\n")
    assert _touches(sample) == [
        "line 1: imports chromadb",
        "line 2: .catalog",
        "line 3: .collection",
    ]
