"""Answers over the example notes: right sources, abstention, no private leaks, input limits."""

from __future__ import annotations

import json
import re

import pytest

from bot.cli_commands import SAMPLE_QUESTIONS_FOR_START
from knowledge.answer import (
    ANSWER,
    DECLINE,
    MAX_PASSAGE_CHARS,
    MAX_SUGGESTION_CHARS,
    MAX_SUGGESTIONS,
    NOT_COVERED,
    NOT_SURE,
    SUGGEST,
)
from knowledge.base import KnowledgeError
from knowledge.evaluation import evaluate, load_questions
from knowledge.retrieval import SearchFilter
from tests.conftest import EXAMPLES_QUESTIONS, EXAMPLES_SOURCE

pytestmark = pytest.mark.slow

QUESTIONS = load_questions(EXAMPLES_QUESTIONS)
ANSWERABLE = [q for q in QUESTIONS if q.answerable]
UNANSWERABLE = [q for q in QUESTIONS if not q.answerable]
PRIVATE_NOTE = "prompts/sponsor-trailer-unreleased.md"
# Distinctive strings of the private note; none of them occurs in any public note.
PRIVATE_STRINGS = ("kestrel", "halberd", "marigold", "mothx2", "90412", "3,200")
TARGETED = (
    "what's the sponsor trailer codename",
    "who is sponsoring the halberd trailer",
    "what is the discount code for the Kestrel Audio headset",
    "what seed did you use for the Veo sponsor trailer",
    "how much are you getting paid for the sponsored headset trailer",
    "when does the embargo on the Halberd X2 lift",
    "MARIGOLD-7",
)


RULES = "community/schedule-and-rules.md"


def leaked(payload: object) -> list[str]:
    text = json.dumps(payload, ensure_ascii=False).lower()
    return [s for s in PRIVATE_STRINGS if s in text]


def test_the_private_note_is_indexed_but_marked_private(examples_kb) -> None:
    """Otherwise the leak tests below would pass for the wrong reason."""
    entries = {e.path: e for e in examples_kb.catalog.documents().values()}
    assert len(entries) == 16
    hits = examples_kb.search(
        "Kestrel Audio Halberd X2 sponsor", search_filter=SearchFilter(visibility="private")
    )
    assert hits and {h.chunk.path for h in hits} == {PRIVATE_NOTE}


def test_answerable_questions_cite_the_right_file(examples_kb) -> None:
    in_top3, misses = 0, []
    for q in ANSWERABLE:
        paths = [c.path for c in examples_kb.ask(q.question).citations]
        if q.source in paths[:3]:
            in_top3 += 1
        else:
            misses.append((q.id, q.source, paths[:3]))
    assert in_top3 / len(ANSWERABLE) >= 0.8, misses


def test_what_the_fan_sees_on_the_held_out_examples(examples_kb) -> None:
    """examples_questions.jsonl was never fitted on; figures when the model was fitted:
    answered wrongly 2.4%, unanswerable answered 0%, right passage shown 73.2%."""
    result = evaluate(examples_kb, QUESTIONS)
    assert result["answered_wrong"] <= 0.10, result
    assert result["unanswerable_answered"] <= 0.10, result
    assert result["shown_right"] >= 0.55, result
    for row in result["questions"]:
        assert row["right"] == (row["kind"] != "unanswerable" and row["right"])
        if row["mode"] == ANSWER and row["kind"] != "unanswerable":
            # An answer is one passage, and "right" means the hint is inside it.
            assert len(row["shown"]) == 1


@pytest.mark.parametrize(
    ("question", "mode", "path"),
    [
        # Covered and plain: the passage is the answer.
        ("what happens if i break the chat rules a second time", ANSWER, RULES),
        ("what gpu do u have", ANSWER, "gear.md"),
        # Covered but vague or worded unlike the note: say so, show the closest notes.
        ("how long did the intro take to make?", SUGGEST, "prompts/neon-city-intro.md"),
        ("what did you use to make the brb screen?", SUGGEST, "faq.md"),
        # Nothing in the notes.
        ("what is the capital of france", DECLINE, None),
        ("can you recommend a good pizza place", DECLINE, None),
    ],
)  # fmt: skip
def test_three_tiers_on_the_sample_notes(examples_kb, question, mode, path) -> None:
    answer = examples_kb.ask(question)
    assert answer.mode == mode, (answer.confidence, answer.features)
    if mode == ANSWER:
        assert answer.citations[0].path == path
        assert answer.shown == [answer.text] == [answer.citations[0].passage]
        assert answer.suggestions == []
    elif mode == SUGGEST:
        assert answer.text == NOT_SURE
        assert 1 <= len(answer.suggestions) <= MAX_SUGGESTIONS
        assert path in [s.path for s in answer.suggestions]
        assert answer.shown == [s.passage for s in answer.suggestions]
        assert all(len(s.passage) <= MAX_SUGGESTION_CHARS + 4 for s in answer.suggestions)
    else:
        assert answer.text == NOT_COVERED and answer.shown == []


def test_the_quick_starts_mod_question_is_not_answered_with_the_labels_passage(
    examples_kb,
) -> None:
    """It used to be answered, confidently, with the passage about labelling AI clips."""
    answer = examples_kb.ask(SAMPLE_QUESTIONS_FOR_START[2])
    assert answer.mode != ANSWER, answer.text


@pytest.mark.parametrize("question", UNANSWERABLE, ids=lambda q: q.id)
def test_unanswerable_questions_are_never_answered(examples_kb, question) -> None:
    answer = examples_kb.ask(question.question)
    assert answer.mode != ANSWER, answer.features
    assert answer.text == (NOT_SURE if answer.mode == SUGGEST else NOT_COVERED)
    assert answer.confidence < examples_kb.library.confidence.answer_at


@pytest.mark.parametrize("question", TARGETED + tuple(q.question for q in QUESTIONS))
def test_private_note_is_never_quoted(examples_kb, question: str) -> None:
    answer = examples_kb.ask(question)
    assert PRIVATE_NOTE not in [c.path for c in answer.citations]
    assert leaked(answer.to_json() | {"question": ""}) == []


@pytest.mark.parametrize(
    "search_filter",
    [SearchFilter(), SearchFilter(visibility="private"), SearchFilter(tags=("sponsor",))],
    ids=["no-visibility", "private-asked", "sponsor-tag"],
)
def test_ask_is_public_only_whatever_the_filter(examples_kb, search_filter) -> None:
    for question in TARGETED[:3]:
        answer = examples_kb.ask(question, search_filter=search_filter)
        assert PRIVATE_NOTE not in [c.path for c in answer.citations]
        assert leaked(answer.to_json() | {"question": ""}) == []


def test_search_is_public_by_default(examples_kb) -> None:
    for question in TARGETED:
        hits = examples_kb.search(question, k=20)
        assert all(h.chunk.visibility == "public" for h in hits)
        assert PRIVATE_NOTE not in {h.chunk.path for h in hits}


def test_a_4000_character_question_is_refused_readably(examples_kb) -> None:
    question = "why " + "x" * 3996
    for call in (examples_kb.ask, examples_kb.search):
        with pytest.raises(KnowledgeError) as info:
            call(question)
        message = str(info.value)
        assert "4,000 characters" in message
        assert "under 500" in message
        assert "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_an_empty_question_is_refused(examples_kb, question: str) -> None:
    with pytest.raises(KnowledgeError, match="empty"):
        examples_kb.ask(question)


@pytest.mark.parametrize(
    "question",
    [
        "@everyone what bitrate do you stream games at",
        "<@123456789> @here whats ur bitrate when streaming games??",
        '**bitrate** for `games` -- OR 1=1; DROP TABLE chunks; "NEAR" AND *',
    ],
)
def test_mentions_and_markup_are_just_text(examples_kb, question: str) -> None:
    """No error, no FTS syntax trouble: the words are searched like any others."""
    chunks = examples_kb.catalog.stats()["chunks"]
    answer = examples_kb.ask(question)
    assert answer.question == " ".join(question.split())
    assert "streaming/obs-scene-setup.md" in [c.path for c in answer.citations[:3]]
    assert examples_kb.catalog.stats()["chunks"] == chunks


def test_answer_json_shape(examples_kb) -> None:
    answer = examples_kb.ask("what mic do you use and how close do you sit to it")
    payload = json.loads(json.dumps(answer.to_json()))
    assert set(payload) == {
        "question", "answer", "mode", "shown", "abstained", "learned", "confidence", "citations",
        "suggestions",
    }  # fmt: skip
    assert isinstance(payload["abstained"], bool)
    assert 0.0 <= payload["confidence"] <= 1.0
    assert payload["confidence"] == round(payload["confidence"], 4)
    assert 1 <= len(payload["citations"]) <= 5
    for citation in payload["citations"]:
        assert set(citation) == {"title", "heading", "path", "url", "passage", "score"}
        assert citation["title"] and citation["passage"]
        assert len(citation["passage"]) <= MAX_PASSAGE_CHARS + 4  # plus the "… " markers
        assert citation["url"] is None or re.match(r"https?://", citation["url"])
    gear = [c for c in payload["citations"] if c["path"] == "gear.md"]
    assert gear and gear[0]["url"] == "https://pixelmoth.example/gear"
    if payload["mode"] == "answer":
        assert payload["answer"] == payload["citations"][0]["passage"]


def test_tag_filter_keeps_only_tagged_notes(examples_kb) -> None:
    question = "what bitrate do you stream at"
    hits = examples_kb.search(question, search_filter=SearchFilter(tags=("ai-clips",)))
    assert hits
    assert all("ai-clips" in h.chunk.tags and h.chunk.visibility == "public" for h in hits)
    assert "streaming/obs-scene-setup.md" not in {h.chunk.path for h in hits}

    both = SearchFilter(tags=("ai-clips", "intro"))
    assert {h.chunk.path for h in examples_kb.search("intro", search_filter=both)} == {
        "prompts/neon-city-intro.md"
    }


def test_source_filter(examples_kb) -> None:
    question = "whats ur bitrate when streaming games"
    same = examples_kb.search(question, search_filter=SearchFilter(sources=(EXAMPLES_SOURCE,)))
    assert [h.chunk.chunk_id for h in same] == [
        h.chunk.chunk_id for h in examples_kb.search(question)
    ]
    assert examples_kb.search(question, search_filter=SearchFilter(sources=("elsewhere",))) == []
    answer = examples_kb.ask(question, search_filter=SearchFilter(sources=("elsewhere",)))
    assert answer.abstained and answer.citations == [] and answer.confidence == 0.0
