"""Per-user cooldowns and per-guild rates for questions (in memory; a restart forgives all)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class QuestionLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last_by_user: dict[tuple[int, int], float] = {}
        self._recent_by_guild: dict[int, deque[float]] = {}

    def check(
        self, guild_id: int, user_id: int, *, cooldown_s: float, per_minute: int
    ) -> float | None:
        """None if the question may go ahead (and it is counted), else seconds to wait."""
        now = self.clock()
        last = self._last_by_user.get((guild_id, user_id))
        if last is not None and now - last < cooldown_s:
            return cooldown_s - (now - last)
        recent = self._recent_by_guild.setdefault(guild_id, deque())
        while recent and now - recent[0] >= 60.0:
            recent.popleft()
        if per_minute > 0 and len(recent) >= per_minute:
            return 60.0 - (now - recent[0])
        recent.append(now)
        self._last_by_user[(guild_id, user_id)] = now
        return None
