from bot.exts.sources._cog import LiveSyncCog


async def setup(bot) -> None:
    await bot.add_cog(LiveSyncCog(bot))
