from tests.discord_double.fixtures import discord_double  # noqa: F401
