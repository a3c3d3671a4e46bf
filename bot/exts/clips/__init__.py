from bot.exts.clips._clip_cog import ClipCog
from bot.exts.clips._review_cog import ReviewCog
from bot.exts.clips._service import GreenRoom
from bot.exts.clips._views import QueuePageButton, ReviewButton


async def setup(bot) -> None:
    bot.add_dynamic_items(ReviewButton, QueuePageButton)
    room = GreenRoom(bot)
    await bot.add_cog(ClipCog(bot, room))
    await bot.add_cog(ReviewCog(bot, room))
