from bot.exts.kb._cog import KnowledgeCog
from bot.exts.kb._views import GapAnswerButton


async def setup(bot) -> None:
    bot.add_dynamic_items(GapAnswerButton)
    await bot.add_cog(KnowledgeCog(bot))
