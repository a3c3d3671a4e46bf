from bot.exts.twitch._cog import TwitchCog
from bot.exts.twitch._views import RequestButton, RequestsPageButton


async def setup(bot) -> None:
    bot.add_dynamic_items(RequestButton, RequestsPageButton)
    await bot.add_cog(TwitchCog(bot))
