"""Helpers for the answer-tier and learned-answer tests: forced tiers, asking, picking."""

from __future__ import annotations

from knowledge.answer import ConfidenceModel

# The tier is forced with a confidence model of the test's own: the fitted thresholds are not
# what these tests are about.
ALWAYS_ANSWER = ConfidenceModel(answer_at=0.0, suggest_at=0.0)
ALWAYS_SUGGEST = ConfidenceModel(answer_at=1.01, suggest_at=0.0)
ALWAYS_DECLINE = ConfidenceModel(answer_at=1.01, suggest_at=1.01)
VAGUE = "what did you make the intro with?"


def force_tier(services, model: ConfidenceModel) -> None:
    """Every later question gets this model's tier (the library reads it at each question)."""
    services.library.confidence = model


def pick_number(card, heading: str) -> int:
    """The number of the suggestion whose citation names `heading`."""
    names = [f["name"] for f in card.embed["fields"]]
    return next(n for n, name in enumerate(names, start=1) if heading in name)


async def ask(world, member, question: str, channel=None):
    inter = await world.double.slash_command(
        world.guild, channel or world.general, member, "ask", {"question": question}
    )
    return await inter.wait_message(timeout=10)
