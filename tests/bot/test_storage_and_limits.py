"""Logic without Discord: the database, guild settings, question limits and gap grouping."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from bot.guild_config import GuildConfigStore, SettingError, parse_value
from bot.question_log import LoggedQuestion, group_gaps
from bot.ratelimit import QuestionLimiter
from bot.storage import Database, Migration


async def test_concurrent_transactions_take_turns(tmp_path):
    db = await Database.open(tmp_path / "x.db")
    await db.migrate("t", [Migration(1, "CREATE TABLE n (v INTEGER)")])

    async def add(v: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO n VALUES (?)", (v,))
            await asyncio.sleep(0.01)  # another task runs here; it must not join this one

    async def failing() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO n VALUES (99)")
            await asyncio.sleep(0.01)
            raise RuntimeError("rolled back")

    results = await asyncio.gather(
        add(1), failing(), add(2), db.execute("INSERT INTO n VALUES (3)"), return_exceptions=True
    )
    assert isinstance(results[1], RuntimeError)
    rows = sorted(r[0] for r in await db.fetchall("SELECT v FROM n"))
    assert rows == [1, 2, 3]
    assert await db.migrate("t", [Migration(1, "CREATE TABLE n (v INTEGER)")]) == 1
    await db.close()


async def test_guild_settings_round_trip_and_errors(tmp_path):
    db = await Database.open(tmp_path / "x.db")
    store = GuildConfigStore(db)
    await store.migrate()
    config = await store.set(7, "mod_roles", "<@&11>, 12")
    assert config.mod_roles == (11, 12)
    assert (await store.set(7, "auto_answer", "on")).auto_answer is True
    assert (await store.get(8)).auto_answer is False  # another guild is untouched
    with pytest.raises(SettingError, match="unknown setting"):
        await store.set(7, "nope", "1")
    with pytest.raises(SettingError, match="not a valid value"):
        parse_value("auto_answer_min_confidence", "2")
    await db.close()


def test_limiter_cooldown_and_guild_rate():
    now = [0.0]
    limiter = QuestionLimiter(clock=lambda: now[0])
    assert limiter.check(1, 10, cooldown_s=30, per_minute=2) is None
    assert limiter.check(1, 10, cooldown_s=30, per_minute=2) == pytest.approx(30)
    assert limiter.check(1, 11, cooldown_s=30, per_minute=2) is None
    assert limiter.check(1, 12, cooldown_s=30, per_minute=2) == pytest.approx(60)  # guild full
    assert limiter.check(2, 12, cooldown_s=30, per_minute=2) is None  # other guild
    now[0] = 61.0
    assert limiter.check(1, 12, cooldown_s=30, per_minute=2) is None


def test_gaps_group_similar_questions():
    def q(i: int, text: str) -> LoggedQuestion:
        return LoggedQuestion(i, 1, 1, i, text, "abstained", 0.1, None, None, 0, False)

    questions = [q(1, "keyboard?"), q(2, "pizza?"), q(3, "which keyboard?")]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.96, 0.28]], dtype=np.float32)
    gaps = group_gaps(questions, lambda _texts: vectors)
    assert [g.count for g in gaps] == [2, 1]
    assert [m.id for m in gaps[0].members] == [1, 3]


async def test_question_log_migration_keeps_old_questions_and_their_gaps(tmp_path):
    from bot.question_log import MIGRATIONS, QuestionLog

    db = await Database.open(tmp_path / "x.db")
    await db.migrate("questions", MIGRATIONS[:1])  # a database from before the answer tiers
    for outcome in ("answered", "abstained"):
        await db.execute(
            "INSERT INTO questions(guild_id, channel_id, user_id, question, outcome, confidence,"
            " via) VALUES (1, 2, 3, ?, ?, 0.5, 'slash')",
            (f"an old {outcome} question", outcome),
        )
    log = QuestionLog(db)
    await log.migrate()
    old_answer, old_decline = await log.get(1), await log.get(2)
    assert (old_answer.mode, old_answer.shown_chunks, old_answer.learned_id) == ("answer", (), None)
    assert (old_decline.mode, old_decline.searched) == ("decline", "an old abstained question")
    assert [q.id for q in await log.open_gaps(1)] == [2]

    picked = await log.record(
        guild_id=1,
        channel_id=2,
        user_id=3,
        question="<@9> which one?",
        outcome="abstained",
        confidence=0.3,
        via="slash",
        mode="suggest",
        shown_chunks=["c2", "c1"],
        searched="which one?",
    )
    logged = await log.get(picked)
    assert (logged.shown_chunks, logged.searched) == (("c2", "c1"), "which one?")
    await log.rate(picked, 4, 1)  # "2 answered it": the suggestion answered it, not a gap
    assert [q.id for q in await log.open_gaps(1)] == [2]
    await log.rate(picked, 5, -1)
    await log.rate(picked, 6, -1)  # voted down after all: a gap again
    assert [q.id for q in await log.open_gaps(1)] == [picked, 2]
    await db.close()
