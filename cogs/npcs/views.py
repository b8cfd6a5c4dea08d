"""The NPC form (a modal for the long card fields) and the delete confirmation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.npcs.model import Npc

MODAL_LIMIT = 4000  # Discord's limit for one text input
# (card field, label, required, placeholder); a modal holds five inputs.
FORM_FIELDS: tuple[tuple[str, str, bool, str], ...] = (
    ("description", "Persona", True, "Who they are: looks, history, what they want. {{user}} = the player."),
    ("personality", "Personality", False, "A few words: wry, patient, fond of riddles"),
    ("scenario", "Scenario", False, "Where and when: the salt marsh at dusk, a storm coming"),
    ("first_mes", "Greeting", False, "What they say when they enter a scene"),
    ("mes_example", "Example dialogue", False, "{{user}}: Who are you?\n{{char}}: *smiles* Someone who listens."),
)

Submit = Callable[[discord.Interaction, dict[str, str]], Awaitable[None]]


class NpcForm(discord.ui.Modal):
    """The long fields of an NPC. Editing pre-fills them; a field too long for a modal (an imported card's)
    is left out and stays as it is."""

    def __init__(self, title: str, on_submit: Submit, npc: Npc | None = None) -> None:
        super().__init__(title=title[:45])
        self._submit = on_submit
        self.inputs: dict[str, discord.ui.TextInput[NpcForm]] = {}
        self.left_out: list[str] = []
        for field, label, required, placeholder in FORM_FIELDS:
            current = getattr(npc, field) if npc is not None else ""
            if len(current) > MODAL_LIMIT:
                self.left_out.append(label.lower())
                continue
            text_input: discord.ui.TextInput[NpcForm] = discord.ui.TextInput(
                label=label,
                custom_id=f"npc:{field}",
                style=discord.TextStyle.paragraph,
                required=required,
                max_length=MODAL_LIMIT,
                placeholder=placeholder[:100],
                default=current or None,
            )
            self.inputs[field] = text_input
            self.add_item(text_input)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submit(interaction, {field: item.value for field, item in self.inputs.items()})

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await interaction.client.report_error(interaction, error)  # type: ignore[attr-defined]


class ConfirmDelete(discord.ui.View):
    """Two buttons on an ephemeral message, so only the one who asked sees (and presses) them."""

    def __init__(self, on_confirm: Callable[[discord.Interaction], Awaitable[None]]) -> None:
        super().__init__(timeout=120)
        self._confirm = on_confirm

    @discord.ui.button(label="Delete", style=discord.ButtonStyle.danger, custom_id="npc:delete:yes")
    async def yes(self, interaction: discord.Interaction, _: discord.ui.Button[ConfirmDelete]) -> None:
        self.stop()
        await self._confirm(interaction)

    @discord.ui.button(label="Keep", style=discord.ButtonStyle.secondary, custom_id="npc:delete:no")
    async def no(self, interaction: discord.Interaction, _: discord.ui.Button[ConfirmDelete]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Kept. Nothing was deleted.", view=None)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, _: discord.ui.Item[ConfirmDelete]
    ) -> None:
        await interaction.client.report_error(interaction, error)  # type: ignore[attr-defined]
