from bot.exts.ask._cog import AskCog
from bot.exts.ask._views import AnswerButton


async def setup(bot) -> None:
    bot.add_dynamic_items(AnswerButton)
    await bot.add_cog(AskCog(bot))
