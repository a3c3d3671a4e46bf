"""Cameo requests in SQLite: the rewards each guild created, one row per redemption, and an
append-only audit of every act on a request.

A request's state moves by compare-and-set (`UPDATE ... WHERE state IN (...)`), so when two
mods decide at once exactly one decision counts and exactly one Twitch update is queued. The
status Twitch should get (`pending_status`) is stored with the decision, and cleared only when
Twitch took it: a failed update is retried, never lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from bot.storage import Database, Migration
from bot.twitch.helix import CANCELED, FULFILLED, UNFULFILLED, CustomReward, Redemption
from ingest.errors import UserFacingError


class RequestState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"  # in the cameo queue, waiting for its clip
    HELD = "held"
    REJECTED = "rejected"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"


S = RequestState
_STATES = ", ".join(f"'{s}'" for s in RequestState)
# action -> (states it may start from, the state it leads to, the Twitch status it asks for)
TRANSITIONS: dict[str, tuple[tuple[RequestState, ...], RequestState, str | None]] = {
    "accept": ((S.OPEN, S.HELD), S.ACCEPTED, None),
    "hold": ((S.OPEN,), S.HELD, None),
    "reject": ((S.OPEN, S.HELD, S.ACCEPTED), S.REJECTED, CANCELED),
    "fulfil": ((S.ACCEPTED,), S.FULFILLED, FULFILLED),
    "expire": ((S.OPEN, S.HELD), S.EXPIRED, CANCELED),
}
UNDECIDED = (S.OPEN, S.HELD)
BOT_ACTOR = 0  # the audit's actor for what the bot does by itself (records, expiry, Twitch)

MIGRATIONS = [
    Migration(
        1,
        f"""
        CREATE TABLE twitch_rewards (
            reward_id TEXT PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            broadcaster_id TEXT NOT NULL,
            broadcaster_login TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL,
            cost INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX twitch_rewards_by_guild ON twitch_rewards(guild_id);

        CREATE TABLE twitch_requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id INTEGER NOT NULL,
            redemption_id TEXT NOT NULL UNIQUE,
            reward_id TEXT NOT NULL,
            broadcaster_id TEXT NOT NULL,
            reward_title TEXT NOT NULL DEFAULT '',
            user_login TEXT NOT NULL DEFAULT '',
            user_name TEXT NOT NULL DEFAULT '',
            user_input TEXT NOT NULL DEFAULT '',
            redeemed_at TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL CHECK (state IN ({_STATES})),
            twitch_status TEXT NOT NULL DEFAULT 'UNFULFILLED',
            pending_status TEXT,
            twitch_error TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            decided_by INTEGER,
            card_channel_id INTEGER,
            card_message_id INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX twitch_requests_by_guild_state ON twitch_requests(guild_id, state, id);
        CREATE INDEX twitch_requests_pending ON twitch_requests(pending_status);

        CREATE TABLE twitch_request_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            request_id INTEGER NOT NULL REFERENCES twitch_requests(id),
            guild_id INTEGER NOT NULL,
            actor_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL
        );
        CREATE INDEX twitch_request_audit_by_request ON twitch_request_audit(request_id, id)
        """,
    ),
    # The clip that fulfils an accepted request (`/clip submit ... request:`): the clip id it
    # was submitted as; a later version of that clip counts too.
    Migration(
        2,
        """
        ALTER TABLE twitch_requests ADD COLUMN clip_id INTEGER;
        CREATE INDEX twitch_requests_by_clip ON twitch_requests(guild_id, clip_id)
        """,
    ),
    # The audit is append-only (as the clips' audit, bot/clips/schema.py). IF NOT EXISTS: before
    # this migration the triggers were created on every open, so older databases have them.
    Migration(
        3,
        """
        CREATE TRIGGER IF NOT EXISTS twitch_request_audit_no_update
        BEFORE UPDATE ON twitch_request_audit BEGIN
            SELECT RAISE(ABORT, 'twitch_request_audit is append-only');
        END;
        CREATE TRIGGER IF NOT EXISTS twitch_request_audit_no_delete
        BEFORE DELETE ON twitch_request_audit BEGIN
            SELECT RAISE(ABORT, 'twitch_request_audit is append-only');
        END;
        CREATE TRIGGER IF NOT EXISTS twitch_request_audit_no_replace
        BEFORE INSERT ON twitch_request_audit
        WHEN EXISTS (SELECT 1 FROM twitch_request_audit WHERE id = NEW.id) BEGIN
            SELECT RAISE(ABORT, 'twitch_request_audit is append-only');
        END
        """,
    ),
    # Whether Twitch sends the reward's redemptions: 'enabled' once an EventSub session is
    # subscribed, 'revoked: <why>' when Twitch revoked the subscription (`greenroom twitch status`).
    # And the clip whose rejection put a request back in the queue, so that a new version of that
    # clip (`/clip resubmit`) is linked to the request again.
    Migration(
        4,
        """
        ALTER TABLE twitch_rewards ADD COLUMN eventsub_status TEXT NOT NULL DEFAULT '';
        ALTER TABLE twitch_rewards ADD COLUMN eventsub_changed_at REAL;
        ALTER TABLE twitch_requests ADD COLUMN requeued_clip_id INTEGER
        """,
    ),
]


class RequestError(UserFacingError):
    """A request that cannot do what was asked; the message is shown to the member."""


class RequestAlreadyDecided(RequestError):
    def __init__(self, request: CameoRequest, action: str) -> None:
        self.request = request
        self.action = action
        self.actor_id = request.decided_by
        super().__init__(self.sentence(None), user_id=request.decided_by or None)

    def sentence(self, user: str | None, moment: str | None = None) -> str:
        by = f" by {user}" if user else ""
        return (
            f"Request #{self.request.id} is already {self.request.state.value}{by}: it can't be"
            f" {ACTION_WORDS[self.action]} now. Nothing was changed."
        )


ACTION_WORDS = {
    "accept": "accepted",
    "hold": "put on hold",
    "reject": "rejected",
    "fulfil": "marked fulfilled",
    "expire": "expired",
}


@dataclass(frozen=True)
class RewardLink:
    reward_id: str
    guild_id: int
    broadcaster_id: str
    broadcaster_login: str
    title: str
    cost: int


@dataclass(frozen=True)
class CameoRequest:
    id: int
    guild_id: int
    redemption_id: str
    reward_id: str
    broadcaster_id: str
    reward_title: str
    user_login: str
    user_name: str
    user_input: str
    redeemed_at: str
    state: RequestState
    twitch_status: str
    pending_status: str | None
    twitch_error: str
    reason: str
    decided_by: int | None
    card_channel_id: int | None
    card_message_id: int | None
    created_at: float
    updated_at: float
    clip_id: int | None = None  # the clip submitted for it (accepted, then fulfilled)
    requeued_clip_id: int | None = None  # the rejected clip that put it back in the queue

    @classmethod
    def from_row(cls, row) -> CameoRequest:
        values = dict(row)
        values["state"] = RequestState(values["state"])
        return cls(**values)


@dataclass(frozen=True)
class AuditEntry:
    actor_id: int
    action: str
    from_state: str | None
    to_state: str
    reason: str
    at: float


class RequestStore:
    def __init__(self, db: Database, clock=time.time) -> None:
        self.db = db
        self.clock = clock

    @classmethod
    async def open(cls, db: Database, clock=time.time) -> RequestStore:
        await db.migrate("twitch", MIGRATIONS)
        return cls(db, clock)

    # --- rewards ----------------------------------------------------------------------------

    async def add_reward(self, guild_id: int, reward: CustomReward, login: str) -> RewardLink:
        """Link a reward Greenroom created to a guild; a guild has one broadcaster."""
        other = await self.db.fetchone(
            "SELECT broadcaster_login FROM twitch_rewards WHERE guild_id = ?"
            " AND broadcaster_id != ? LIMIT 1",
            (guild_id, reward.broadcaster_id),
        )
        if other is not None:
            raise RequestError(
                f"server {guild_id} is already linked to the Twitch channel"
                f" {other['broadcaster_login']}"
            )
        await self.db.execute(
            "INSERT INTO twitch_rewards(reward_id, guild_id, broadcaster_id, broadcaster_login,"
            " title, cost, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (reward.id, guild_id, reward.broadcaster_id, login, reward.title, reward.cost,
             self.clock()),
        )  # fmt: skip
        return RewardLink(reward.id, guild_id, reward.broadcaster_id, login, reward.title,
                          reward.cost)  # fmt: skip

    async def rewards(self, guild_id: int | None = None) -> list[RewardLink]:
        sql = "SELECT reward_id, guild_id, broadcaster_id, broadcaster_login, title, cost"
        sql += " FROM twitch_rewards"
        rows = await (
            self.db.fetchall(sql + " WHERE guild_id = ? ORDER BY created_at", (guild_id,))
            if guild_id is not None
            else self.db.fetchall(sql + " ORDER BY created_at")
        )
        return [RewardLink(**dict(row)) for row in rows]

    async def set_eventsub_status(self, reward_ids: list[str], status: str) -> None:
        for reward_id in reward_ids:
            await self.db.execute(
                "UPDATE twitch_rewards SET eventsub_status = ?, eventsub_changed_at = ?"
                " WHERE reward_id = ?",
                (status, self.clock(), reward_id),
            )

    async def eventsub_status(self, reward_id: str) -> tuple[str, float | None]:
        """('enabled' | 'revoked: <why>' | '' before the bot first listened, since when)."""
        row = await self.db.fetchone(
            "SELECT eventsub_status, eventsub_changed_at FROM twitch_rewards WHERE reward_id = ?",
            (reward_id,),
        )
        return (row["eventsub_status"], row["eventsub_changed_at"]) if row else ("", None)

    # --- requests ---------------------------------------------------------------------------

    async def record(self, redemption: Redemption) -> tuple[CameoRequest | None, bool]:
        """The request for a redemption (new or already known), and whether it is new; None
        for a reward Greenroom does not know."""
        reward = await self.db.fetchone(
            "SELECT guild_id, title FROM twitch_rewards WHERE reward_id = ?",
            (redemption.reward_id,),
        )
        if reward is None:
            return None, False
        now = self.clock()
        async with self.db.transaction() as conn:
            # Looked up first rather than INSERT ... ON CONFLICT: a refused insert would still
            # use up an id, and request numbers shown to mods would skip.
            async with conn.execute(
                "SELECT 1 FROM twitch_requests WHERE redemption_id = ?", (redemption.id,)
            ) as cur:
                known = await cur.fetchone() is not None
            cur = None if known else await conn.execute(
                "INSERT INTO twitch_requests(guild_id, redemption_id, reward_id, broadcaster_id,"
                " reward_title, user_login, user_name, user_input, redeemed_at, state,"
                " twitch_status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)"
                " ON CONFLICT(redemption_id) DO NOTHING",
                (
                    reward["guild_id"], redemption.id, redemption.reward_id,
                    redemption.broadcaster_id, redemption.reward_title or reward["title"],
                    redemption.user_login, redemption.user_name, redemption.user_input,
                    redemption.redeemed_at, redemption.status or UNFULFILLED, now, now,
                ),
            )  # fmt: skip
            new = cur is not None and cur.rowcount == 1
            if new:
                await self._audit(conn, cur.lastrowid, reward["guild_id"], BOT_ACTOR,
                                  "redeemed", None, S.OPEN, "", now)  # fmt: skip
        row = await self.db.fetchone(
            "SELECT * FROM twitch_requests WHERE redemption_id = ?", (redemption.id,)
        )
        return CameoRequest.from_row(row), new

    async def get(self, request_id: int, guild_id: int | None = None) -> CameoRequest | None:
        row = await self.db.fetchone("SELECT * FROM twitch_requests WHERE id = ?", (request_id,))
        if row is None or (guild_id is not None and row["guild_id"] != guild_id):
            return None
        return CameoRequest.from_row(row)

    async def list(
        self, guild_id: int, states: tuple[RequestState, ...] = (S.OPEN, S.HELD, S.ACCEPTED)
    ) -> list[CameoRequest]:
        marks = ", ".join("?" for _ in states)
        rows = await self.db.fetchall(
            f"SELECT * FROM twitch_requests WHERE guild_id = ? AND state IN ({marks}) ORDER BY id",
            (guild_id, *states),
        )
        return [CameoRequest.from_row(row) for row in rows]

    async def decide(
        self, request_id: int, guild_id: int, action: str, actor_id: int, reason: str = ""
    ) -> CameoRequest:
        """Move the request; `RequestAlreadyDecided` when it is not in a state that allows it
        (someone else decided first). A decision that changes the Twitch status also needs the
        redemption to still be UNFULFILLED (the only status Twitch lets change)."""
        if action not in TRANSITIONS:
            raise ValueError(f"unknown request action {action!r}")
        sources, target, twitch_status = TRANSITIONS[action]
        marks = ", ".join("?" for _ in sources)
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT state FROM twitch_requests WHERE id = ? AND guild_id = ?",
                (request_id, guild_id),
            ) as cur:
                before = await cur.fetchone()
            if before is None:
                raise RequestError(f"There is no request #{request_id} in this server.")
            extra = " AND twitch_status = 'UNFULFILLED'" if twitch_status else ""
            cur = await conn.execute(
                f"UPDATE twitch_requests SET state = ?, reason = ?, decided_by = ?,"
                f" pending_status = COALESCE(?, pending_status), updated_at = ?"
                f" WHERE id = ? AND guild_id = ? AND state IN ({marks}){extra}",
                (target, reason, actor_id, twitch_status, now, request_id, guild_id, *sources),
            )
            changed = cur.rowcount == 1
            if changed:
                await self._audit(conn, request_id, guild_id, actor_id, action,
                                  before["state"], target, reason, now)  # fmt: skip
        request = await self.get(request_id, guild_id)
        if not changed:
            raise RequestAlreadyDecided(request, action)
        return request

    # --- the clip that fulfils an accepted request ------------------------------------------

    async def link_clip(
        self, request_id: int, guild_id: int, clip_id: int, actor_id: int
    ) -> CameoRequest:
        """Link an accepted request that has no clip yet to `clip_id`; one clip per request, so
        two creators linking at once get one link (the other a `RequestError`)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE twitch_requests SET clip_id = ?, requeued_clip_id = NULL, updated_at = ?"
                " WHERE id = ? AND guild_id = ? AND state = 'accepted' AND clip_id IS NULL",
                (clip_id, now, request_id, guild_id),
            )
            changed = cur.rowcount == 1
            if changed:
                await self._audit(conn, request_id, guild_id, actor_id, "link_clip",
                                  S.ACCEPTED, S.ACCEPTED, f"clip #{clip_id}", now)  # fmt: skip
        request = await self.get(request_id, guild_id)
        if not changed:
            raise RequestError(self.unlinkable(request, request_id))
        return request

    @staticmethod
    def unlinkable(request: CameoRequest | None, request_id: int) -> str:
        """Why a clip can't be linked to the request (it must be accepted and have no clip)."""
        if request is None:
            return f"There is no request #{request_id} in this server."
        if request.state != S.ACCEPTED:
            return (
                f"Request #{request.id} is {request.state.value}: only accepted requests (in the"
                " cameo queue) can get a clip."
            )
        return f"Request #{request.id} already has clip #{request.clip_id} for it."

    async def open_for_clip(self, guild_id: int) -> list[CameoRequest]:
        """Accepted requests that wait for a clip (none linked yet), oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM twitch_requests WHERE guild_id = ? AND state = 'accepted'"
            " AND clip_id IS NULL ORDER BY id",
            (guild_id,),
        )
        return [CameoRequest.from_row(row) for row in rows]

    async def linked(
        self, guild_id: int | None = None, clip_ids: tuple[int, ...] | None = None
    ) -> list[CameoRequest]:
        """Accepted requests with a clip linked (of one guild, to one of `clip_ids`, if given)."""
        sql = "SELECT * FROM twitch_requests WHERE state = 'accepted' AND clip_id IS NOT NULL"
        args: tuple = ()
        if guild_id is not None:
            sql += " AND guild_id = ?"
            args += (guild_id,)
        if clip_ids is not None:
            if not clip_ids:
                return []
            sql += f" AND clip_id IN ({', '.join('?' for _ in clip_ids)})"
            args += tuple(clip_ids)
        rows = await self.db.fetchall(sql + " ORDER BY id", args)
        return [CameoRequest.from_row(row) for row in rows]

    async def unlink_clip(
        self, request: CameoRequest, actor_id: int, reason: str
    ) -> CameoRequest | None:
        """The request's clip was rejected: back in the cameo queue (accepted, no clip). None
        when it is no longer accepted with that clip (someone else settled it first)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE twitch_requests SET clip_id = NULL, requeued_clip_id = clip_id,"
                " reason = ?, updated_at = ? WHERE id = ? AND state = 'accepted' AND clip_id = ?",
                (reason, now, request.id, request.clip_id),
            )
            changed = cur.rowcount == 1
            if changed:
                await self._audit(conn, request.id, request.guild_id, actor_id, "requeue",
                                  S.ACCEPTED, S.ACCEPTED, reason, now)  # fmt: skip
        return await self.get(request.id) if changed else None

    async def relink(
        self, guild_id: int, family: tuple[int, ...], clip_id: int, actor_id: int
    ) -> list[CameoRequest]:
        """A new version `clip_id` of a rejected clip (one of `family`) was submitted: the
        requests that rejection put back in the queue, and that got no other clip since, are
        linked to it again, so its approval fulfils them."""
        if not family:
            return []
        marks = ", ".join("?" for _ in family)
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute(
                f"SELECT id, requeued_clip_id FROM twitch_requests WHERE guild_id = ?"
                f" AND state = 'accepted' AND clip_id IS NULL AND requeued_clip_id IN ({marks})",
                (guild_id, *family),
            ) as cur:
                found = [(row[0], row[1]) for row in await cur.fetchall()]
            for request_id, old in found:
                await conn.execute(
                    "UPDATE twitch_requests SET clip_id = ?, requeued_clip_id = NULL,"
                    " updated_at = ? WHERE id = ?",
                    (clip_id, now, request_id),
                )
                await self._audit(conn, request_id, guild_id, actor_id, "link_clip", S.ACCEPTED,
                                  S.ACCEPTED, f"clip #{clip_id}, a new version of #{old}",
                                  now)  # fmt: skip
        return [await self.get(request_id) for request_id, _ in found]

    async def set_card(self, request_id: int, channel_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE twitch_requests SET card_channel_id = ?, card_message_id = ? WHERE id = ?",
            (channel_id, message_id, request_id),
        )

    async def without_card(self) -> list[CameoRequest]:
        rows = await self.db.fetchall(
            "SELECT * FROM twitch_requests WHERE card_message_id IS NULL ORDER BY id"
        )
        return [CameoRequest.from_row(row) for row in rows]

    async def pending(self) -> list[CameoRequest]:
        """Requests whose Twitch status update has not gone through yet."""
        rows = await self.db.fetchall(
            "SELECT * FROM twitch_requests WHERE pending_status IS NOT NULL ORDER BY id"
        )
        return [CameoRequest.from_row(row) for row in rows]

    async def stale(self, older_than: float) -> list[CameoRequest]:
        """Undecided requests recorded before `older_than` (unix time)."""
        rows = await self.db.fetchall(
            "SELECT * FROM twitch_requests WHERE state IN ('open', 'held') AND created_at < ?"
            " ORDER BY id",
            (older_than,),
        )
        return [CameoRequest.from_row(row) for row in rows]

    async def twitch_took(self, request: CameoRequest, status: str) -> CameoRequest:
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE twitch_requests SET twitch_status = ?, pending_status = NULL,"
                " twitch_error = '', updated_at = ? WHERE id = ?",
                (status, now, request.id),
            )
            await self._audit(conn, request.id, request.guild_id, BOT_ACTOR, "twitch",
                              request.state, request.state, status, now)  # fmt: skip
        return await self.get(request.id)

    async def twitch_failed(
        self, request: CameoRequest, error: str, *, give_up: bool = False
    ) -> CameoRequest:
        """Twitch did not take the update: kept pending to retry, or dropped (`give_up`)."""
        now = self.clock()
        pending = None if give_up else request.pending_status
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE twitch_requests SET pending_status = ?, twitch_error = ?,"
                " updated_at = ? WHERE id = ?",
                (pending, error, now, request.id),
            )
            if give_up:
                await self._audit(conn, request.id, request.guild_id, BOT_ACTOR, "twitch",
                                  request.state, request.state, error, now)  # fmt: skip
        return await self.get(request.id)

    async def audit(self, request_id: int) -> list[AuditEntry]:
        rows = await self.db.fetchall(
            "SELECT actor_id, action, from_state, to_state, reason, at FROM twitch_request_audit"
            " WHERE request_id = ? ORDER BY id",
            (request_id,),
        )
        return [AuditEntry(**dict(row)) for row in rows]

    @staticmethod
    async def _audit(conn, request_id, guild_id, actor_id, action, from_state, to_state,
                     reason, at) -> None:  # fmt: skip
        await conn.execute(
            "INSERT INTO twitch_request_audit(request_id, guild_id, actor_id, action,"
            " from_state, to_state, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (request_id, guild_id, actor_id, action,
             None if from_state is None else str(from_state), str(to_state), reason, at),
        )  # fmt: skip
