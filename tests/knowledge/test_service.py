"""KnowledgeService: the knowledge base's calls as coroutines, run off the event loop."""

from __future__ import annotations

import threading

from ingest.documents import Document
from knowledge import KnowledgeService, SearchFilter


async def test_service_runs_each_call_in_a_thread(library, monkeypatch) -> None:
    service = KnowledgeService(library)
    doc = Document(
        doc_id="mod-answers::1",
        title="Mod answer: cat",
        text="The cat is called Pixel and she loves the warm capture card.",
        source="mod-answers",
    )
    report = await service.add_documents("guild-1", [doc])
    assert report.added == 1

    kb = library.open("guild-1")
    threads = []
    search = kb.search
    monkeypatch.setattr(
        kb, "search", lambda *a: threads.append(threading.current_thread()) or search(*a)
    )
    hits = await service.search("guild-1", "what is the cat called", 3, SearchFilter())
    assert hits[0].chunk.doc_id == "mod-answers::1"
    assert threads and threads[0] is not threading.main_thread()

    assert await service.sources("guild-1") == [("mod-answers", 1)]
    assert kb.counts() == {"documents": 1, "chunks": 1, "sources": 1}
    assert (await service.stats("guild-1"))["documents"] == 1
    assert await service.first_chunk_id("guild-1", "mod-answers::1") == hits[0].chunk.chunk_id
    assert await service.first_chunk_id("guild-1", "gone::1") is None
    assert (await service.ask("guild-1", "what is the cat called")).hits

    report = await service.remove_documents("guild-1", ["mod-answers::1"])
    assert report.removed == 1
    assert await service.sources("guild-1") == []
