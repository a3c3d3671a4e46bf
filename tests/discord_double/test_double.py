"""Self-tests of the Discord double, driving a tiny throwaway bot with the real discord.py."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_double import (
    BotError,
    CommandNotAvailable,
    DiscordDouble,
    Upload,
    bot_kwargs,
    run_bot,
)

# ----------------------------------------------------------------------------- the bot


class DemoButton(discord.ui.DynamicItem[discord.ui.Button], template=r"demo:(?P<n>[0-9]+)"):
    def __init__(self, n: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Demo {n}", custom_id=f"demo:{n}", style=discord.ButtonStyle.primary
            )
        )
        self.n = n

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # type: ignore[override]
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"clicked {self.n} by {interaction.user.name}", ephemeral=True
        )


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your feedback", custom_id="feedback_text")

    def __init__(self) -> None:
        super().__init__(custom_id="feedback-modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}")


class LabelModal(discord.ui.Modal, title="Clip review"):
    verdict = discord.ui.Label(
        text="Verdict",
        component=discord.ui.Select(
            custom_id="verdict",
            options=[
                discord.SelectOption(label="Keep", value="keep"),
                discord.SelectOption(label="Drop", value="drop"),
            ],
        ),
    )
    note = discord.ui.Label(
        text="Note", component=discord.ui.TextInput(custom_id="note", required=False)
    )

    def __init__(self) -> None:
        super().__init__(custom_id="review-modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        select = self.verdict.component
        note = self.note.component
        assert isinstance(select, discord.ui.Select)
        assert isinstance(note, discord.ui.TextInput)
        await interaction.response.edit_message(
            content=f"verdict={select.values[0]} note={note.value!r}", view=None
        )


class ReviewView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Review", custom_id="review")
    async def review(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(LabelModal())

    @discord.ui.select(
        custom_id="pick",
        options=[
            discord.SelectOption(label="A", value="a"),
            discord.SelectOption(label="B", value="b"),
        ],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.edit_message(content=f"picked {select.values[0]}")


def make_bot(guild_ids: list[int], **overrides) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", **bot_kwargs(**overrides))
    bot.add_dynamic_items(DemoButton)
    tree = bot.tree

    @tree.command(name="ask", description="Ask a question")
    async def ask(
        interaction: discord.Interaction,
        question: str,
        count: int = 1,
        loud: bool = False,
        who: discord.Member | None = None,
        where: discord.TextChannel | None = None,
        role: discord.Role | None = None,
    ) -> None:
        parts = [f"{question} x{count}", f"loud={loud}"]
        if who is not None:
            parts.append(f"who={who.name}")
        if where is not None:
            parts.append(f"where={where.name}")
        if role is not None:
            parts.append(f"role={role.name}")
        embed = discord.Embed(title="Answer", description=" ".join(parts))
        view = discord.ui.View(timeout=None)
        view.add_item(DemoButton(count))
        await interaction.response.send_message(embed=embed, view=view)

    @tree.command(name="slow", description="Deferred answer")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await asyncio.sleep(0.01)
        await interaction.followup.send("done slowly")
        await interaction.followup.send("and a second followup")

    @tree.command(name="edit", description="Answer then edit")
    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        await interaction.edit_original_response(content="second")

    @tree.command(name="feedback", description="Open a modal")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @tree.command(name="review", description="A view with a button opening a label modal")
    async def review(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("clip #1", view=ReviewView())

    @tree.command(name="file", description="Answer with a file")
    async def file(interaction: discord.Interaction, upload: discord.Attachment) -> None:
        data = await upload.read()
        await interaction.response.send_message(
            f"got {upload.filename} ({len(data)} bytes)",
            file=discord.File(io.BytesIO(data.upper()), filename="upper.txt"),
        )

    @tree.command(name="whoami", description="Permissions")
    async def whoami(interaction: discord.Interaction) -> None:
        perms = interaction.permissions
        member = interaction.user
        assert isinstance(member, discord.Member)
        await interaction.response.send_message(
            f"manage_guild={perms.manage_guild} admin={member.guild_permissions.administrator} "
            f"bot_send={interaction.app_permissions.send_messages}",
            ephemeral=True,
        )

    @tree.command(name="admin", description="Mods only")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def admin(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("admin ok")

    @admin.error
    async def admin_error(interaction: discord.Interaction, error: app_commands.AppCommandError):
        if isinstance(error, app_commands.MissingPermissions):
            await interaction.response.send_message("missing permissions", ephemeral=True)

    @tree.command(name="dm", description="DM someone")
    async def dm(interaction: discord.Interaction, user: discord.Member) -> None:
        try:
            await user.send("hello in your DMs")
        except discord.Forbidden as exc:
            await interaction.response.send_message(f"forbidden {exc.code}", ephemeral=True)
        else:
            await interaction.response.send_message("sent", ephemeral=True)

    @tree.command(name="thread", description="Start a thread")
    async def thread(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("starting a thread")
        message = await interaction.original_response()
        created = await message.create_thread(name="discussion")
        await created.send("hello in the thread")

    @tree.command(name="post", description="Forum post")
    async def post(interaction: discord.Interaction, forum: discord.ForumChannel) -> None:
        real = interaction.guild.get_channel(forum.id)  # type: ignore[union-attr]
        assert isinstance(real, discord.ForumChannel)
        tag = real.available_tags[0]
        created = await real.create_thread(
            name="A question", content="first post", applied_tags=[tag]
        )
        await interaction.response.send_message(f"posted {created.thread.id}")

    @tree.command(name="boom", description="Raises")
    async def boom(interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom")

    @tree.command(name="toolong", description="Breaks a Discord limit")
    async def toolong(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("x" * 2001)

    @tree.command(name="sleepy", description="Too slow to answer")
    async def sleepy(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        await interaction.response.send_message("late")

    kb = app_commands.Group(name="kb", description="Knowledge base")

    @kb.command(name="search", description="Search notes")
    async def search(interaction: discord.Interaction, query: str) -> None:
        await interaction.response.send_message(f"results for {query}")

    @search.autocomplete("query")
    async def search_autocomplete(interaction: discord.Interaction, current: str):
        return [
            app_commands.Choice(name=f"{current} notes", value=f"{current}-notes"),
            app_commands.Choice(name="pinned", value="pinned"),
        ]

    tree.add_command(kb)

    greenroom = app_commands.Group(name="greenroom", description="Greenroom admin")
    setup = app_commands.Group(name="setup", description="Setup", parent=greenroom)

    @setup.command(name="channels", description="Pick channels")
    async def setup_channels(
        interaction: discord.Interaction, ask: discord.TextChannel, mods: discord.Role
    ) -> None:
        await interaction.response.send_message(f"ask={ask.name} mods={mods.name}")

    tree.add_command(greenroom)

    @tree.context_menu(name="Answer from notes")
    async def answer_from_notes(interaction: discord.Interaction, message: discord.Message):
        await interaction.response.send_message(f"answering: {message.content}", ephemeral=True)

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot:
            return
        if message.content.startswith("hello"):
            assert isinstance(message.author, discord.Member)
            await message.reply(
                f"hi {message.author.mention}", allowed_mentions=discord.AllowedMentions.none()
            )

    async def setup_hook() -> None:
        for gid in guild_ids:
            guild = discord.Object(gid)
            tree.copy_global_to(guild=guild)
            await tree.sync(guild=guild)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


# ----------------------------------------------------------------------------- world


class World:
    def __init__(self, double: DiscordDouble) -> None:
        self.double = double
        self.guild = double.add_guild("Streamer HQ", owner="streamer")
        g = self.guild
        self.mods = g.add_role("Mods", permissions=discord.Permissions(manage_guild=True))
        self.admins = g.add_role("Admins", permissions=discord.Permissions(administrator=True))
        self.ask = g.add_text_channel("ask")
        self.logs = g.add_text_channel("logs")
        self.forum = g.add_forum_channel("questions", tags=["clips", "help"])
        self.fan = g.add_member("fan")
        self.mod = g.add_member("mod", roles=[self.mods])
        self.admin = g.add_member("boss", roles=[self.admins])
        self.other = double.add_guild("Other HQ")
        self.other_chan = self.other.add_text_channel("general")
        self.other_member = self.other.add_member("stranger")

    def bot(self, **overrides) -> commands.Bot:
        return make_bot([self.guild.id, self.other.id], **overrides)


@pytest.fixture
def world(discord_double: DiscordDouble) -> World:
    return World(discord_double)


# ----------------------------------------------------------------------------- tests


async def test_ready_cache_and_sync(world: World) -> None:
    double = world.double
    bot = world.bot()
    async with run_bot(double, bot):
        guild = bot.get_guild(world.guild.id)
        assert guild is not None and guild.name == "Streamer HQ"
        assert guild.me is not None and guild.me.id == double.bot_user.id
        assert guild.get_role(world.mods.id).name == "Mods"  # type: ignore[union-attr]
        assert guild.get_channel(world.ask.id).name == "ask"  # type: ignore[union-attr]
        assert isinstance(guild.get_channel(world.forum.id), discord.ForumChannel)
        assert guild.owner_id == world.guild.owner_id
        assert guild.get_member(world.fan.id) is not None  # members intent -> full member list
        assert bot.get_guild(world.other.id) is not None
        names = {c["name"] for c in double.commands(world.guild)}
        assert {"ask", "kb", "greenroom", "Answer from notes"} <= names
        assert all(
            "id" in c and c["application_id"] == str(double.application_id)
            for c in double.commands(world.guild)
        )
    assert double.errors == []


async def test_slash_command_embed_and_persistent_button_survives_restart(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        inter = await double.slash_command(
            world.guild,
            world.ask,
            world.fan,
            "ask",
            {
                "question": "when is the stream?",
                "count": 3,
                "loud": True,
                "who": world.mod,
                "where": world.logs,
                "role": world.mods,
            },
        )
        response = await inter.wait_response()
        assert response["type"] == 4
        message = await inter.wait_message()
        assert message.embed is not None and message.embed["title"] == "Answer"
        assert "when is the stream? x3" in message.text
        assert "loud=True who=mod where=logs role=Mods" in message.text
        assert message.custom_ids == ["demo:3"]
        assert not inter.ephemeral
        assert message in world.ask.messages
        assert inter.payload["data"]["guild_id"] == str(world.guild.id)

        click = await double.click(world.guild, world.ask, world.fan, message, "demo:3")
        reply = await click.wait_message()
        assert reply.content == "clicked 3 by fan" and reply.ephemeral

    # a brand-new bot object connects to the same double: the button still works
    async with run_bot(double, world.bot()) as running:
        assert running.bot.is_ready()
        click = await double.click(world.guild, world.ask, world.mod, message, "demo:3")
        assert (await click.wait_message()).content == "clicked 3 by mod"

    with pytest.raises(ValueError, match="no component"):
        async with run_bot(double, world.bot()):
            await double.click(world.guild, world.ask, world.fan, message, "demo:99")


async def test_deferred_response_and_followups(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        inter = await double.slash_command(world.guild, world.ask, world.fan, "slow")
        assert (await inter.wait_response())["type"] == 5
        first = await inter.wait_message()
        assert first.content == "done slowly"
        assert first.ephemeral  # the deferral decided
        assert inter.original is first  # the first followup replaced the "thinking" message
        second = await inter.wait_followup(1)
        assert second.content == "and a second followup"
        assert [m.content for m in inter.messages] == ["done slowly", "and a second followup"]

        edit = await double.slash_command(world.guild, world.ask, world.fan, "edit")
        await double.wait_until(lambda: edit.content == "second", what="the edit")
        assert edit.message is not None and len(edit.message.edits) == 1


async def test_modal_round_trips(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        inter = await double.slash_command(world.guild, world.ask, world.fan, "feedback")
        modal = await inter.wait_modal()
        assert modal["title"] == "Feedback"
        submitted = await double.submit_modal(
            world.guild, world.ask, world.fan, "feedback-modal", {"feedback_text": "great show"}
        )
        assert (await submitted.wait_message()).content == "thanks: great show"
        with pytest.raises(ValueError, match="required"):
            await double.submit_modal(world.guild, world.ask, world.fan, "feedback-modal", {})

        # a modal opened from a button, built with Label components (type 18) and a select
        review = await double.slash_command(world.guild, world.ask, world.mod, "review")
        clip = await review.wait_message()
        opened = await double.click(world.guild, world.ask, world.mod, clip, "review")
        modal = await opened.wait_modal()
        assert [c["type"] for c in modal["components"]] == [18, 18]
        done = await double.submit_modal(
            world.guild, world.ask, world.mod, "review-modal", {"verdict": ["keep"], "note": "nice"}
        )
        assert (await done.wait_response())["type"] == 7
        await double.wait_until(lambda: clip.content == "verdict=keep note='nice'")
        assert clip.components == []

        picked = await double.slash_command(world.guild, world.ask, world.mod, "review")
        msg = await picked.wait_message()
        sel = await double.select(world.guild, world.ask, world.mod, msg, "pick", ["b"])
        await sel.wait_response()
        assert msg.content == "picked b"


async def test_subcommands_groups_and_autocomplete(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        inter = await double.slash_command(
            world.guild, world.ask, world.fan, "kb", {"query": "schedule"}, subcommand="search"
        )
        assert (await inter.wait_message()).content == "results for schedule"

        inter = await double.slash_command(
            world.guild,
            world.ask,
            world.admin,
            "greenroom setup channels",
            {"ask": world.ask, "mods": world.mods},
        )
        assert (await inter.wait_message()).content == "ask=ask mods=Mods"
        opts = inter.payload["data"]["options"]
        assert opts[0]["type"] == 2 and opts[0]["options"][0]["type"] == 1

        choices = await double.autocomplete(
            world.guild, world.ask, world.fan, "kb", "query", "sched", subcommand="search"
        )
        assert choices == [
            {"name": "sched notes", "value": "sched-notes"},
            {"name": "pinned", "value": "pinned"},
        ]

        with pytest.raises(ValueError, match="missing required"):
            await double.slash_command(
                world.guild, world.ask, world.fan, "kb", {}, subcommand="search"
            )
        with pytest.raises(CommandNotAvailable):
            await double.slash_command(world.guild, world.ask, world.fan, "nope")


async def test_message_reply_with_no_mentions_and_context_menu(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        mark = double.mark()
        sent = await double.send_message(world.guild, world.ask, world.fan, "hello bot")
        reply = await double.wait_for_message(world.ask, after=mark)
        assert reply.content == f"hi <@{world.fan.id}>"
        assert reply.reference_id == sent.id
        assert reply.allowed_mentions == {"parse": []}
        [request] = double.requests_to("POST", rf"^/channels/{world.ask.id}/messages$")
        assert request.json["allowed_mentions"] == {"parse": []}

        inter = await double.context_menu(
            world.guild, world.ask, world.mod, "Answer from notes", sent
        )
        answer = await inter.wait_message()
        assert answer.content == "answering: hello bot" and answer.ephemeral
        assert inter.payload["data"]["type"] == 3


async def test_dms_and_closed_dms(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        inter = await double.slash_command(
            world.guild, world.ask, world.mod, "dm", {"user": world.fan}
        )
        assert (await inter.wait_message()).content == "sent"
        dm = await double.wait_for_message(world.fan)
        assert dm.content == "hello in your DMs"

        double.close_dms(world.fan)
        inter = await double.slash_command(
            world.guild, world.ask, world.mod, "dm", {"user": world.fan}
        )
        assert (await inter.wait_message()).content == "forbidden 50007"


async def test_threads_and_forum_posts(world: World) -> None:
    double = world.double
    bot = world.bot()
    async with run_bot(double, bot):
        inter = await double.slash_command(world.guild, world.ask, world.fan, "thread")
        starter = await inter.wait_message()
        thread = await double.wait_for_thread(world.ask)
        assert thread.id == starter.id and thread.type == 11 and thread.name == "discussion"
        hello = await double.wait_for_message(thread)
        assert hello.content == "hello in the thread"
        cached = bot.get_channel(thread.id)
        assert isinstance(cached, discord.Thread) and cached.parent_id == world.ask.id

        inter = await double.slash_command(
            world.guild, world.ask, world.mod, "post", {"forum": world.forum}
        )
        answer = await inter.wait_message()
        post = await double.wait_for_thread(world.forum)
        assert answer.content == f"posted {post.id}"
        assert post.messages[0].content == "first post" and post.messages[0].id == post.id
        assert post.applied_tags == [int(world.forum.available_tags[0]["id"])]


async def test_permissions_from_roles(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        fan = await double.slash_command(world.guild, world.ask, world.fan, "whoami")
        assert (await fan.wait_message()).content == "manage_guild=False admin=False bot_send=True"
        boss = await double.slash_command(world.guild, world.ask, world.admin, "whoami")
        assert (await boss.wait_message()).content == "manage_guild=True admin=True bot_send=True"

        # Discord hides a default_permissions command from members lacking them ...
        with pytest.raises(CommandNotAvailable):
            await double.slash_command(world.guild, world.ask, world.fan, "admin")
        # ... and if a server override shows it anyway, the bot's own check refuses
        inter = await double.slash_command(
            world.guild, world.ask, world.fan, "admin", check_permissions=False
        )
        assert (await inter.wait_message()).content == "missing permissions"
        for who in (world.mod, world.admin, world.guild.owner):
            ok = await double.slash_command(world.guild, world.ask, who, "admin")
            assert (await ok.wait_message()).content == "admin ok"

        world.ask.add_overwrite(world.guild.bot_role, deny=discord.Permissions(send_messages=True))
        denied = await double.slash_command(world.guild, world.ask, world.fan, "whoami")
        assert "bot_send=False" in (await denied.wait_message()).content


async def test_attachments_multipart(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        inter = await double.slash_command(
            world.guild, world.ask, world.fan, "file", {"upload": Upload("notes.txt", b"abc")}
        )
        message = await inter.wait_message()
        assert message.content == "got notes.txt (3 bytes)"
        [attachment] = message.attachments
        assert attachment["filename"] == "upper.txt" and attachment["size"] == 3
        async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as resp:
            assert await resp.read() == b"ABC"
        [callback] = double.requests_to("POST", "/callback$")
        assert callback.files[0]["filename"] == "upper.txt"


async def test_guild_isolation_and_resume(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot()):
        with pytest.raises(ValueError, match="not a member"):
            await double.slash_command(world.other, world.other_chan, world.fan, "whoami")
        with pytest.raises(ValueError, match="not in"):
            await double.slash_command(world.guild, world.other_chan, world.fan, "whoami")
        inter = await double.slash_command(
            world.other, world.other_chan, world.other_member, "whoami"
        )
        assert inter.payload["guild_id"] == str(world.other.id)
        await inter.wait_message()

        await double.drop_connection()
        [session] = double.gateway.live_sessions
        assert session.resumes == 1
        inter = await double.slash_command(
            world.guild, world.ask, world.fan, "ask", {"question": "q"}
        )
        assert (await inter.wait_message()).embed is not None


async def test_errors_are_reported(world: World) -> None:
    double = world.double
    async with run_bot(double, world.bot(), check_errors=False):
        inter = await double.slash_command(world.guild, world.ask, world.fan, "boom")
        with pytest.raises(BotError, match="kaboom"):
            await inter.wait_response(timeout=1)

        double.raise_on_error = False
        too_long = await double.slash_command(world.guild, world.ask, world.fan, "toolong")
        await double.wait_until(lambda: too_long.http_errors, what="the 400")
        assert too_long.http_errors[0].status == 400
        assert too_long.http_errors[0].response["code"] == 50035
        assert too_long.responses == []

        double.interaction_deadline = 0.1
        late = await double.slash_command(world.guild, world.ask, world.fan, "sleepy")
        await double.wait_until(lambda: late.http_errors, what="the expired interaction")
        assert late.http_errors[0].response["code"] == 10062
        await double.wait_until(lambda: len(double.errors) >= 3, what="logged errors")


async def test_rest_shapes(discord_double: DiscordDouble) -> None:
    double = discord_double
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{double.api_url}/nope/nothing") as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json"
            assert await resp.json() == {"message": "404: Not Found", "code": 0}
        async with session.get(f"{double.api_url}/users/@me") as resp:
            assert resp.status == 401
        headers = {"Authorization": "Bot x"}
        async with session.get(f"{double.api_url}/users/@me", headers=headers) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == str(double.bot_user.id)
    assert [r.path for r in double.requests] == ["/nope/nothing", "/users/@me", "/users/@me"]


async def test_message_content_intent_is_honoured(world: World) -> None:
    double = world.double
    seen: list[str] = []
    intents = discord.Intents.default()  # no message_content, no members
    bot = world.bot(intents=intents)

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    async with run_bot(double, bot):
        assert bot.get_guild(world.guild.id).get_member(world.fan.id) is None  # type: ignore[union-attr]
        await double.send_message(world.guild, world.ask, world.fan, "secret")
        await double.send_message(
            world.guild, world.ask, world.fan, f"{double.bot_user.mention} hi"
        )
        await double.wait_until(lambda: len(seen) == 2)
        assert seen == ["", f"<@{double.bot_user.id}> hi"]
