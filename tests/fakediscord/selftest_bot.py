"""A small real discord.py bot that exercises every feature the fake must support (not Taleweaver's bot).

It records what it saw (``events``, ``errors``) so tests can assert on the client side too.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands
from discord.webhook.async_ import async_context, interaction_response_params

NPC_AVATAR = "https://example.invalid/npcs/old-marta.png"
NONE = discord.AllowedMentions.none()


class TurnModal(discord.ui.Modal, title="Your turn"):
    turn_text: discord.ui.TextInput[TurnModal] = discord.ui.TextInput(
        label="What happens next?", custom_id="turn_text", style=discord.TextStyle.paragraph, max_length=500
    )
    mood: discord.ui.TextInput[TurnModal] = discord.ui.TextInput(label="Mood", custom_id="mood", required=False)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        text = f"turn by {interaction.user.name}: {self.turn_text.value} (mood={self.mood.value or '-'})"
        await interaction.response.send_message(text, allowed_mentions=NONE)


class StoryView(discord.ui.View):
    """Persistent: no timeout and fixed custom_ids, registered with ``bot.add_view`` in setup_hook."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Take a turn", custom_id="story:turn", style=discord.ButtonStyle.primary)
    async def turn(self, interaction: discord.Interaction, button: discord.ui.Button[StoryView]) -> None:
        await interaction.response.send_modal(TurnModal())

    @discord.ui.button(label="Regenerate", custom_id="story:regen")
    async def regen(self, interaction: discord.Interaction, button: discord.ui.Button[StoryView]) -> None:
        await interaction.response.edit_message(content="regenerated", view=self)

    @discord.ui.select(custom_id="story:genre", options=[discord.SelectOption(label=g) for g in ("fantasy", "noir")])
    async def genre(self, interaction: discord.Interaction, select: discord.ui.Select[StoryView]) -> None:
        await interaction.response.defer()
        await interaction.followup.send(f"genre is now {select.values[0]}", ephemeral=True)


class Story(app_commands.Group):
    admin = app_commands.Group(name="admin", description="Moderator tools")

    @app_commands.command(description="Start a story")
    @app_commands.describe(title="The title", genre="The genre", rounds="How many rounds")
    async def start(
        self,
        interaction: discord.Interaction,
        title: str,
        genre: Literal["fantasy", "noir"],
        rounds: app_commands.Range[int, 1, 10] = 3,
    ) -> None:
        await interaction.response.defer(thinking=True)
        text = f"@everyone {interaction.user.mention} started **{title}** ({genre}, {rounds} rounds)"
        await interaction.edit_original_response(content=text, view=StoryView(), allowed_mentions=NONE)

    @app_commands.command(description="Export the story as a file")
    async def export(self, interaction: discord.Interaction) -> None:
        file = discord.File(io.BytesIO(b"Once upon a time."), filename="story.md")
        await interaction.response.send_message("here it is", file=file, allowed_mentions=NONE)
        assert isinstance(interaction.channel, discord.TextChannel)
        again = discord.File(io.BytesIO(b"chapter two"), filename="chapter2.txt")
        await interaction.channel.send("and a channel copy", file=again, allowed_mentions=NONE)

    @app_commands.command(description="Open a side thread and react")
    async def thread(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = interaction.channel
        assert isinstance(channel, discord.TextChannel)
        thread = await channel.create_thread(name=name, type=discord.ChannelType.public_thread)
        first = await thread.send("The side story begins.", allowed_mentions=NONE)
        await first.add_reaction("👍")
        anchor = await channel.send("anchor", allowed_mentions=NONE)
        await anchor.create_thread(name=f"{name}-from-message")
        await interaction.followup.send(f"opened {thread.mention}", ephemeral=True)

    @admin.command(description="Reset everything")
    async def reset(self, interaction: discord.Interaction, confirm: bool) -> None:
        await interaction.response.send_message(f"reset confirm={confirm}", ephemeral=True)


class SelfTestBot(commands.Bot):
    def __init__(self, guild_id: int, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        intents.members = True  # caches members; discord.py then chunks guilds (op 8) at startup
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.05, **options)
        self.guild_id = guild_id
        self.events: list[tuple[str, Any]] = []
        self.errors: list[BaseException] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every re-IDENTIFY (not RESUME); tests need not."""

    async def setup_hook(self) -> None:
        self.add_view(StoryView())
        guild = discord.Object(self.guild_id)
        self.tree.add_command(Story(name="story", description="Stories"), guild=guild)
        self.tree.add_command(echo)
        self.tree.add_command(npc)
        self.tree.add_command(twice)
        self.tree.add_command(slow)
        await self.tree.sync()
        await self.tree.sync(guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        self.events.append(("message", message))

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.events.append(("reaction", payload))

    async def on_resumed(self) -> None:
        self.events.append(("resumed", None))


@app_commands.command(description="Echo text back")
async def echo(interaction: discord.Interaction, text: str, ephemeral: bool = False) -> None:
    await interaction.response.send_message(text, ephemeral=ephemeral, allowed_mentions=NONE)


npc = app_commands.Group(name="npc", description="Non-player characters")


@npc.command(name="say", description="An NPC speaks through a webhook")
async def npc_say(interaction: discord.Interaction, name: str, text: str) -> None:
    await interaction.response.defer(ephemeral=True)
    channel = interaction.channel
    assert isinstance(channel, discord.TextChannel)
    hooks = [h for h in await channel.webhooks() if h.name == "taleweaver-npcs"]
    hook = hooks[0] if hooks else await channel.create_webhook(name="taleweaver-npcs")
    await hook.send(text, username=name, avatar_url=NPC_AVATAR, wait=True, allowed_mentions=NONE)
    await interaction.edit_original_response(content="spoken")


@npc_say.autocomplete("name")
async def npc_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    names = ["Old Marta", "Brother Quill", "The Ferryman"]
    return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n.lower()]


@app_commands.command(description="Acknowledges twice (must fail the second time)")
async def twice(interaction: discord.Interaction) -> None:
    client = interaction.client
    assert isinstance(client, SelfTestBot)
    await interaction.response.defer()
    try:
        await interaction.response.defer()
    except discord.InteractionResponded as exc:
        client.errors.append(exc)
    try:  # bypass discord.py's own guard: post a second callback straight to the server
        await async_context.get().create_interaction_response(
            interaction.id, interaction.token, session=interaction._session, params=interaction_response_params(5)
        )
    except discord.HTTPException as exc:
        client.errors.append(exc)
    await interaction.edit_original_response(content="done")


@app_commands.command(description="Answers too late")
async def slow(interaction: discord.Interaction) -> None:
    client = interaction.client
    assert isinstance(client, SelfTestBot)
    await asyncio.sleep(0.3)
    try:
        await interaction.response.send_message("late")
    except discord.HTTPException as exc:
        client.errors.append(exc)
