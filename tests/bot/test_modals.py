"""Every modal in bot/ gets a custom_id of its own per opening.

discord.py keeps one open modal per custom_id, so a shared id lets one member's opening replace
another's and drops the other submit (the race over the wire is in test_clips_review.py).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import discord

import bot
from bot.clips.states import REASON_REQUIRED
from bot.exts.clips._views import ApproveModal, ReasonModal
from bot.exts.kb._views import GapAnswerModal
from bot.exts.twitch._views import RejectModal

OPENINGS: dict[type[discord.ui.Modal], list[Callable[[], discord.ui.Modal]]] = {
    ApproveModal: [lambda: ApproveModal(3)],
    ReasonModal: [lambda action=action: ReasonModal(action, 3) for action in REASON_REQUIRED],
    GapAnswerModal: [lambda: GapAnswerModal(7, "which keyboard do you use?")],
    RejectModal: [lambda: RejectModal(12)],
}


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _modal_classes() -> set[str]:
    """Every Modal subclass defined in bot/, by name (load_extension makes new class objects)."""
    for module in pkgutil.walk_packages(bot.__path__, "bot."):
        importlib.import_module(module.name)
    found, todo = set(), [discord.ui.Modal]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] == "bot":
                found.add(_name(sub))
    return found


def test_every_modal_in_bot_is_checked() -> None:
    missing = _modal_classes() - {_name(cls) for cls in OPENINGS}
    assert not missing, f"add openings of {sorted(missing)} to OPENINGS"


async def test_each_opening_of_a_modal_has_its_own_custom_id() -> None:
    for cls, openings in OPENINGS.items():
        for open_modal in openings:
            first, second = open_modal(), open_modal()
            assert first.custom_id != second.custom_id, cls.__name__
            assert len(first.custom_id) <= 100  # Discord's limit
            assert first.timeout is not None, f"{cls.__name__}: unsubmitted openings pile up"
