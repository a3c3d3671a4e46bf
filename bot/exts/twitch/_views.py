"""The request card's buttons (persistent: the custom_id carries the action and request id,
`twreq:accept:12`) and the rejection's reason modal (a custom_id of its own per opening)."""

from __future__ import annotations

import re

import discord

from bot.errors import report_interaction_error
from bot.modals import opening_id
from bot.twitch.requests import CameoRequest, RequestState

S = RequestState
TWITCH_COG = "TwitchCog"
BUTTONS: dict[str, tuple[str, discord.ButtonStyle]] = {
    "accept": ("Accept", discord.ButtonStyle.success),
    "reject": ("Reject (refund)", discord.ButtonStyle.danger),
    "hold": ("Hold", discord.ButtonStyle.secondary),
    "fulfil": ("Mark fulfilled", discord.ButtonStyle.primary),
}


def request_actions(request: CameoRequest) -> list[str]:
    if request.state == S.OPEN:
        return ["accept", "reject", "hold"]
    if request.state == S.HELD:
        return ["accept", "reject"]
    if request.state == S.ACCEPTED:
        return ["fulfil", "reject"]
    return []


def request_view(request: CameoRequest) -> discord.ui.View | None:
    actions = request_actions(request)
    if not actions:
        return None
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(RequestButton(action, request.id))
    return view


class RequestButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"twreq:(?P<action>accept|reject|hold|fulfil):(?P<request>[0-9]+)",
):
    def __init__(self, action: str, request_id: int) -> None:
        label, style = BUTTONS[action]
        super().__init__(
            discord.ui.Button(style=style, label=label, custom_id=f"twreq:{action}:{request_id}")
        )
        self.action = action
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> RequestButton:
        return cls(match["action"], int(match["request"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.get_cog(TWITCH_COG).card_button(
                interaction, self.action, self.request_id
            )
        except Exception as error:
            await report_interaction_error(interaction, error)


class RejectModal(discord.ui.Modal):
    """Why the request is rejected; the viewer's points are refunded either way."""

    def __init__(self, request_id: int) -> None:
        super().__init__(
            title=f"Reject request #{request_id}",
            custom_id=opening_id("twreq:modal:reject", request_id),
            timeout=900,
        )
        self.request_id = request_id
        self.reason = discord.ui.TextInput(
            custom_id="reason",
            style=discord.TextStyle.paragraph,
            required=True,
            max_length=500,
            placeholder="Why (the points go back to the viewer)",
        )
        self.add_item(discord.ui.Label(text="Reason", component=self.reason))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.client.get_cog(TWITCH_COG).decide(
            interaction, "reject", self.request_id, reason=self.reason.value
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_interaction_error(interaction, error)


def requests_page_view(offset: int, page_size: int, total: int) -> discord.ui.View | None:
    if offset == 0 and total <= page_size:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(RequestsPageButton("prev", max(0, offset - page_size), disabled=offset == 0))
    view.add_item(
        RequestsPageButton("next", offset + page_size, disabled=offset + page_size >= total)
    )
    return view


class RequestsPageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"twreq:page:(?P<dir>prev|next):(?P<offset>[0-9]+)",
):
    """◀ / ▶ under /review requests."""

    def __init__(self, direction: str, offset: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label="◀ Previous" if direction == "prev" else "Next ▶",
                disabled=disabled,
                custom_id=f"twreq:page:{direction}:{offset}",
            )
        )
        self.offset = offset

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> RequestsPageButton:
        return cls(match["dir"], int(match["offset"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.client.get_cog(TWITCH_COG).requests_page(
                interaction, self.offset, edit=True
            )
        except Exception as error:
            await report_interaction_error(interaction, error)
