"""Fans ask: /ask, mentions and replies, auto-answers in ask channels, and mods' context menu."""

from __future__ import annotations

import logging
import math
import re
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import KB_UNAVAILABLE, SlowDown, UserFacingError, message_for
from bot.exts.ask._stream import StreamedCard
from bot.exts.ask._views import answer_view
from bot.guild_config import GuildConfig
from bot.permissions import ensure_mod, is_mod, member_of
from bot.render import answer_embed
from knowledge import (
    ANSWER,
    DECLINE,
    MAX_QUESTION_CHARS,
    SUGGEST,
    Answer,
    KnowledgeError,
    OnText,
    StoreUnavailable,
    check_question,
)

log = logging.getLogger(__name__)

_QUESTION_START = re.compile(
    r"^(how|what|why|where|when|which|who|whats|what's|can|could|do|does|did|is|are|any|anyone)\b",
    re.IGNORECASE,
)
FOLLOW_UP_WORDS = 8  # a short reply to an answer is read together with the first question


_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>|@(?:everyone|here)\b")


def searchable_text(question: str) -> str:
    """The question without Discord mentions, which only dilute retrieval."""
    text = " ".join(_MENTION.sub(" ", question).split())
    return text or question


def with_first_question(first: str, follow_up: str) -> str:
    """A short follow-up read together with the question it follows, within the question
    limit: the first question's end is cut, the fan's own words are kept whole."""
    room = MAX_QUESTION_CHARS - len(follow_up) - 1
    return f"{first[:room].rstrip()} {follow_up}" if room > 0 else follow_up


def shown_chunk_ids(answer: Answer) -> list[str]:
    """The passages the fan is shown, in order: what the card's buttons refer to."""
    if answer.mode == ANSWER:
        return [answer.rests_on.chunk_id] if answer.rests_on else []
    return [s.chunk_id for s in answer.suggestions] if answer.mode == SUGGEST else []


def looks_like_question(text: str) -> bool:
    text = text.strip()
    return "?" in text or bool(_QUESTION_START.match(text))


def mods_mention(config: GuildConfig) -> tuple[str, discord.AllowedMentions]:
    """The mod roles as a mention, allowed to ping: the only ping the bot ever sends."""
    roles = [discord.Object(id=role_id) for role_id in config.mod_roles]
    text = " ".join(f"<@&{role_id}>" for role_id in config.mod_roles) or "Mods"
    return text, discord.AllowedMentions(everyone=False, users=False, roles=roles)


class AskCog(commands.Cog):
    def __init__(self, bot) -> None:
        self.bot = bot
        self.services = bot.services
        self._quiet_until: dict[int, float] = {}  # thread id -> monotonic time
        self.answer_from_notes = app_commands.ContextMenu(
            name="Answer from notes", callback=self._answer_from_notes_menu
        )
        self.answer_from_notes.guild_only = True
        self.answer_from_notes.default_permissions = discord.Permissions(manage_messages=True)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.answer_from_notes)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.answer_from_notes.name, type=self.answer_from_notes.type)

    # -- the shared path ----------------------------------------------------------------------
    def _limit(self, config: GuildConfig, guild_id: int, user_id: int) -> None:
        wait = self.services.limiter.check(
            guild_id,
            user_id,
            cooldown_s=config.user_cooldown_seconds,
            per_minute=config.guild_questions_per_minute,
        )
        if wait is not None:
            raise SlowDown(
                f"You're asking quickly! Please wait {math.ceil(wait)} s before the next question."
            )

    async def _answer(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        question: str,
        *,
        via: str,
        asked_message_id: int | None = None,
        retrieval_question: str | None = None,
        silent_below: float | None = None,
        on_text: OnText | None = None,
    ) -> tuple[Answer, int]:
        # A short follow-up ("which one?") may only make sense with the first question.
        answer = await self.services.ask(
            guild_id,
            searchable_text(question),
            retry_with=searchable_text(retrieval_question) if retrieval_question else None,
            on_text=on_text,
        )
        searched = answer.question  # the text the knowledge base was asked
        answer.question = question
        outcome = "abstained" if answer.abstained else "answered"
        if silent_below is not None and (answer.abstained or answer.confidence < silent_below):
            outcome = "silent"
        question_id = await self.services.questions.record(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            question=question,
            outcome=outcome,
            confidence=answer.confidence,
            via=via,
            asked_message_id=asked_message_id,
            mode=answer.mode,
            shown_chunks=shown_chunk_ids(answer),
            learned_id=answer.learned_id,
            searched=searched,
        )
        return answer, question_id

    # -- /ask -------------------------------------------------------------------------------
    @app_commands.command(
        name="ask", description="Ask a question; I answer from the streamer's notes"
    )
    @app_commands.describe(question="What would you like to know?")
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        member = member_of(interaction)
        question = check_question(question)  # before deferring: a refusal stays private
        config = await self.services.guild_configs.get(interaction.guild_id)
        self._limit(config, interaction.guild_id, member.id)
        await interaction.response.defer(thinking=True)
        card = None
        if await self.services.written_enabled(interaction.guild_id):
            # A written answer streams into the message as the model writes it.
            card = StreamedCard(
                question,
                lambda embed: interaction.followup.send(
                    embed=embed, allowed_mentions=discord.AllowedMentions.none(), wait=True
                ),
            )
        try:
            answer, question_id = await self._answer(
                interaction.guild_id,
                interaction.channel_id,
                member.id,
                question,
                via="slash",
                on_text=card.show if card else None,
            )
        except BaseException:
            if card is not None:
                await card.abort()
            raise
        embed, view = answer_embed(answer), answer_view(question_id, answer)
        message = await card.finish(embed, view) if card else None
        if message is None:
            message = await interaction.followup.send(
                embed=embed, view=view, allowed_mentions=discord.AllowedMentions.none(), wait=True
            )
        await self.services.questions.attach_message(question_id, message.id)

    # -- mentions, replies and auto-answers ------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None or self.bot.user is None:
            return
        config = await self.services.guild_configs.get(message.guild.id)
        in_thread = isinstance(message.channel, discord.Thread)
        if (
            in_thread
            and isinstance(message.author, discord.Member)
            and is_mod(message.author, config)
        ):
            self._quiet_until[message.channel.id] = time.monotonic() + 60 * config.mod_quiet_minutes
            return
        reference = message.reference.resolved if message.reference else None
        if isinstance(reference, discord.Message) and reference.author.id == self.bot.user.id:
            original = await self.services.questions.by_answer_message(reference.id)
            if original is not None:
                await self._reply_to(message, config, follow_up_of=original.question)
                return
        if self.bot.user in message.mentions:
            await self._reply_to(message, config)
            return
        if config.auto_answer and self._in_ask_channel(message, config):
            await self._auto_answer(message, config)

    def _in_ask_channel(self, message: discord.Message, config: GuildConfig) -> bool:
        channel = message.channel
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        return channel.id in config.ask_channels or parent_id in config.ask_channels

    def _strip_mentions(self, message: discord.Message) -> str:
        text = re.sub(rf"<@!?{self.bot.user.id}>", "", message.content)
        return " ".join(text.split())

    async def _reply_to(
        self, message: discord.Message, config: GuildConfig, follow_up_of: str | None = None
    ) -> None:
        text = self._strip_mentions(message)
        if not text:
            await message.reply(
                "Ask me something about the stream, e.g. “how did you make the intro?”",
                mention_author=False,
            )
            return
        try:
            question = check_question(text)
            self._limit(config, message.guild.id, message.author.id)
        except UserFacingError as error:
            await message.reply(message_for(error), mention_author=False)
            return
        retrieval = None
        if follow_up_of and len(question.split()) <= FOLLOW_UP_WORDS:
            retrieval = with_first_question(follow_up_of, question)
        try:
            async with message.channel.typing():
                answer, question_id = await self._answer(
                    message.guild.id,
                    message.channel.id,
                    message.author.id,
                    question,
                    via="follow-up" if follow_up_of else "mention",
                    asked_message_id=message.id,
                    retrieval_question=retrieval,
                )
        except StoreUnavailable:  # the store's address and error are in the log
            await message.reply(KB_UNAVAILABLE, mention_author=False)
            return
        reply = await message.reply(
            embed=answer_embed(answer),
            view=answer_view(question_id, answer),
            mention_author=False,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await self.services.questions.attach_message(question_id, reply.id)

    async def _auto_answer(self, message: discord.Message, config: GuildConfig) -> None:
        text = " ".join(message.content.split())
        if not looks_like_question(text):
            return
        if self._quiet_until.get(message.channel.id, 0.0) > time.monotonic():
            return  # a mod replied in this thread lately: they are handling it
        try:
            question = check_question(text)
        except KnowledgeError:
            return
        wait = self.services.limiter.check(
            message.guild.id,
            message.author.id,
            cooldown_s=config.user_cooldown_seconds,
            per_minute=config.guild_questions_per_minute,
        )
        if wait is not None:
            return
        try:
            answer, question_id = await self._answer(
                message.guild.id,
                message.channel.id,
                message.author.id,
                question,
                via="auto",
                asked_message_id=message.id,
                silent_below=config.auto_answer_min_confidence,
            )
        except StoreUnavailable:
            return  # nobody asked the bot: it stays quiet (the outage is in the log)
        if answer.abstained or answer.confidence < config.auto_answer_min_confidence:
            return  # stay silent; the question is recorded as a gap
        if isinstance(message.channel, discord.Thread):
            target: discord.abc.Messageable = message.channel
        else:
            target = await message.create_thread(name=_thread_name(question))
        sent = await target.send(
            embed=answer_embed(answer),
            view=answer_view(question_id, answer),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await self.services.questions.attach_message(question_id, sent.id)

    # -- "Answer from notes" (mods) --------------------------------------------------------
    async def _answer_from_notes_menu(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        member = member_of(interaction)
        config = await self.services.guild_configs.get(interaction.guild_id)
        ensure_mod(member, config, "answer someone else's message from the notes")
        text = " ".join(message.content.split())
        if not text:
            raise UserFacingError("That message has no text to answer.")
        question = check_question(text)
        await interaction.response.defer(ephemeral=True, thinking=True)
        answer, question_id = await self._answer(
            interaction.guild_id,
            message.channel.id,
            message.author.id,
            question,
            via="context-menu",
            asked_message_id=message.id,
        )
        reply = await message.reply(
            embed=answer_embed(answer),
            view=answer_view(question_id, answer),
            mention_author=False,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await self.services.questions.attach_message(question_id, reply.id)
        state = {
            ANSWER: "Answered",
            SUGGEST: "I wasn't sure and suggested the closest notes",
            DECLINE: "I said the notes don't cover it",
        }[answer.mode]
        learned = ""
        if answer.mode == ANSWER and answer.rests_on:
            # A mod chose to answer this from the notes: their confirmation counts at once.
            entry = await self.services.confirm(
                interaction.guild_id,
                searchable_text(question),
                answer.rests_on.chunk_id,
                member.id,
                by_mod=True,
                question_id=question_id,
            )
            if entry is not None:
                learned = (
                    f"\nQuestions like this now get that passage (learned answer #{entry.id};"
                    " a 👎 on the answer or `/kb learned remove` undoes it)."
                )
        await interaction.followup.send(f"{state}: {reply.jump_url}{learned}", ephemeral=True)

    # -- buttons (👍, 👎 and "N answered it" are in _feedback.py) --------------------------
    async def ask_a_mod(self, interaction: discord.Interaction, question_id: int) -> None:
        member = member_of(interaction)
        logged = await self.services.questions.get(question_id)
        if logged is None or logged.guild_id != interaction.guild_id:
            raise UserFacingError("I can't find that question any more.")
        config = await self.services.guild_configs.get(interaction.guild_id)
        await self.services.questions.rate(question_id, member.id, -1)  # now a gap to fill
        ping, allowed = mods_mention(config)
        allowed.users = [member]
        quoted = "\n".join(f"> {line}" for line in logged.question.splitlines())
        content = f"{ping}: {member.mention} would like a mod's answer to:\n{quoted}"
        where = await self._mod_thread(interaction, question_id, config)
        if where is None:
            raise UserFacingError(
                "I couldn't open a thread here and no log channel is set up."
                " Please ping a mod directly."
            )
        await where.send(content[:2000], allowed_mentions=allowed)
        await interaction.response.send_message(
            f"I've asked the mods in {where.mention}.", ephemeral=True
        )

    async def _mod_thread(
        self, interaction: discord.Interaction, question_id: int, config: GuildConfig
    ) -> discord.abc.Messageable | None:
        message = interaction.message
        if message is not None and isinstance(interaction.channel, discord.TextChannel):
            try:
                return await message.create_thread(name=f"Question for the mods #{question_id}")
            except discord.HTTPException:
                log.info("could not open a thread for question %s", question_id, exc_info=True)
        if isinstance(interaction.channel, discord.Thread):
            return interaction.channel
        if config.log_channel and interaction.guild is not None:
            channel = interaction.guild.get_channel(config.log_channel)
            if isinstance(channel, discord.TextChannel | discord.Thread):
                return channel
        return None


def _thread_name(question: str) -> str:
    name = re.sub(r"[@#<>`*_~|]", "", question).strip() or "Question"
    return name[:90]
