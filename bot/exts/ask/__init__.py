from bot.exts.ask._cog import AskCog
from bot.exts.ask._feedback import FeedbackCog
from bot.exts.ask._views import AnswerButton, PickButton


async def setup(bot) -> None:
    bot.add_dynamic_items(AnswerButton, PickButton)
    await bot.add_cog(AskCog(bot))
    await bot.add_cog(FeedbackCog(bot))
