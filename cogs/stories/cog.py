"""/story commands: thin handlers over bot.stories.service.StoryService; the runner does the background work."""

from __future__ import annotations

import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Taleweaver
from bot.safety.gate import Blocked
from bot.stories.export import export_story
from bot.stories.phases import Phase
from bot.stories.rules import MIN_TIMEOUT, TURN_LIMIT, StoryOptions, parse_duration
from bot.text import InputProblem, echo, quote
from cogs.controls import Confirm
from cogs.npcs import story as npc_story  # issue 10: NPCs and characters in story rounds
from cogs.stories.render import lobby_embed, status_embed, turn_message, vote_embed
from cogs.stories.runner import StoryRunner
from cogs.stories.views import ContinueButton, LobbyButton, TurnModal, VoteButton, lobby_view
from cogs.ui import (
    NO_PINGS,
    actor_of,
    admit,
    answer_deferred,
    channel_of,
    defer_public,
    guarded,
    in_guild,
    is_moderator,
)

log = logging.getLogger(__name__)

PAUSING = (
    "⏸️ The storyteller is pausing for a restart. **{title}** is kept as it is: turns, votes and timers "
    "pick up where they were when Taleweaver is back."
)
MODES = [
    app_commands.Choice(name="Round-robin: players take turns in order", value="round-robin"),
    app_commands.Choice(name="Free: anyone adds; the narrator answers every few contributions", value="free"),
]
CHOICES = [
    app_commands.Choice(name="Off: the narrator continues once", value=0),
    app_commands.Choice(name="Players vote between 2 continuations", value=2),
    app_commands.Choice(name="Players vote between 3 continuations", value=3),
]
FORMATS = [
    app_commands.Choice(name="Markdown", value="markdown"),
    app_commands.Choice(name="Plain text", value="text"),
    app_commands.Choice(name="Screenplay (Fountain)", value="fountain"),
]


class Stories(commands.Cog):
    def __init__(self, bot: Taleweaver) -> None:
        self.bot = bot
        self.service = bot.stories
        self.runner = StoryRunner(bot, self.service, bot.narrator)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(LobbyButton, VoteButton, ContinueButton)
        await self.runner.restore()

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(LobbyButton, VoteButton, ContinueButton)
        await self.runner.close()

    async def shutdown_begins(self) -> None:
        """SIGTERM: timers stop (their deadlines stay stored) and every open story's channel hears why."""
        self.runner.stop()
        for story in await self.service.open_stories():
            channel = await self.runner.channel(story.channel_id)
            if channel is None:
                continue
            try:
                await channel.send(PAUSING.format(title=quote(story.title, 100)), allowed_mentions=NO_PINGS)
            except discord.HTTPException:
                log.warning("could not announce the pause in channel %s", story.channel_id, exc_info=True)

    async def shutdown_ends(self) -> None:
        await self.runner.tidy_left_over()

    story = app_commands.Group(name="story", description="Tell a story together, with an AI narrator.", guild_only=True)

    # --- setting up ---------------------------------------------------------------------------------
    @story.command(name="start", description="Open a story in this channel: players join, then you press Start.")
    @app_commands.describe(
        title="The story's title", genre="e.g. fantasy, noir, cosy mystery", premise="Where and how it begins",
        mode="How turns work (default round-robin)", turn_timeout="Round-robin: time per turn, like 90s, 10m or 2h",
        rounds="Rounds until the ending (0 = until /story end)", narrate_every="Free mode: contributions per narration",
        choices="Let players vote between continuations",
        as_characters="Post each turn under the player's character name and avatar (needs Manage Webhooks)",
    )  # fmt: skip
    @app_commands.choices(mode=MODES)
    @app_commands.choices(choices=CHOICES)
    async def start(
        self, interaction: discord.Interaction, title: str, genre: str, premise: str, mode: str = "round-robin",
        turn_timeout: str = "", rounds: app_commands.Range[int, 0, 100] = 0,
        narrate_every: app_commands.Range[int, 1, 10] = 3, choices: int = 0, as_characters: bool = False,
    ) -> None:  # fmt: skip
        settings = await admit(interaction, "stories", {"title": title, "genre": genre, "premise": premise})
        actor = actor_of(interaction)
        self.bot.limits.check_starter(settings, actor.role_ids, await is_moderator(interaction))
        timeout = parse_duration(turn_timeout) if turn_timeout.strip() else settings.turn_timeout
        timeout = max(timeout, MIN_TIMEOUT) if timeout else 0  # a server default under the minimum rounds up
        options = StoryOptions(title, genre, premise, mode, timeout, rounds, narrate_every, choices)
        user = interaction.user
        story = await self.service.create(
            in_guild(interaction), channel_of(interaction), user.id, user.display_name, options
        )
        if as_characters:  # issue 10: players' turns posted under their characters' names
            await self.bot.npc_story.set_as_characters(story.id, True)
        view = await self.service.view_of(story.id)
        await interaction.response.send_message(embed=lobby_embed(view), view=lobby_view(story.id, started=False))
        message = await interaction.original_response()
        await self.service.set_lobby_message(story.id, message.id)

    @story.command(name="join", description="Join the story in this channel, or rename your character in it.")
    @app_commands.describe(
        character="Your character's name (default: your display name); if you play already, a new one"
    )
    async def join(self, interaction: discord.Interaction, character: str = "") -> None:
        story = await self.service.story_in(channel_of(interaction))
        user = interaction.user
        if character and await self.service.player(story.id, user.id) is not None:
            before, after = await self.service.rename(story.id, user.id, character)
            await interaction.response.send_message(
                f"🪪 <@{user.id}> now plays **{quote(after.name, 40)}** (was **{quote(before.name, 40)}**).",
                allowed_mentions=NO_PINGS,
            )
            return
        outcome, player = await self.service.join(story.id, user.id, character or user.display_name)
        await interaction.response.send_message(
            f"🙋 <@{player.user_id}> joins the story as **{quote(player.name, 40)}**.", allowed_mentions=NO_PINGS
        )
        await self.runner.apply(outcome)

    @story.command(name="leave", description="Leave the story in this channel.")
    async def leave(self, interaction: discord.Interaction) -> None:
        story = await self.service.story_in(channel_of(interaction))
        outcome, player = await self.service.leave(story.id, interaction.user.id)
        await interaction.response.send_message(
            f"👋 **{quote(player.name, 40)}** leaves the story.", allowed_mentions=NO_PINGS
        )
        await self.runner.apply(outcome)

    @guarded
    async def on_lobby_button(self, interaction: discord.Interaction, action: str, story_id: int) -> None:
        user = interaction.user
        if action == "join":
            outcome, player = await self.service.join(story_id, user.id, user.display_name)
            notice = f"🙋 You joined as **{quote(player.name, 40)}**. `/story join character:…` picks another name."
        elif action == "leave":
            outcome, player = await self.service.leave(story_id, user.id)
            notice = "👋 You left the story."
        else:
            outcome, notice = await self.service.begin(story_id, actor_of(interaction)), ""
        view = await self.service.view_of(story_id)
        await interaction.response.edit_message(
            embed=lobby_embed(view), view=lobby_view(story_id, started=view.story.phase != Phase.LOBBY)
        )
        if notice:
            await interaction.followup.send(notice, ephemeral=True)
        await self.runner.apply(outcome)

    # --- turns --------------------------------------------------------------------------------------
    @story.command(name="add", description="Add your turn to the story.")
    @app_commands.describe(text=f"What your character does or says (up to {TURN_LIMIT:,} characters)")
    async def add(self, interaction: discord.Interaction, text: str) -> None:
        await self.submit_turn(interaction, text)

    @story.command(name="write", description=f"Write a long turn in a text box (up to {TURN_LIMIT:,} characters).")
    async def write(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(TurnModal(self))

    @story.command(name="edit", description="Change your turn in this round, before the narrator weaves it in.")
    @app_commands.describe(text="The new text (leave empty to edit in a text box)")
    async def edit(self, interaction: discord.Interaction, text: str = "") -> None:
        if text:
            await self.submit_turn(interaction, text, edit=True)
        else:
            await interaction.response.send_modal(TurnModal(self, edit=True))

    async def submit_turn(self, interaction: discord.Interaction, text: str, *, edit: bool = False) -> None:
        """Shared by /story add, the modal and /story edit. A rejected draft is handed back, never lost."""
        try:
            await admit(interaction, "stories", {"turn": text})
            if edit:
                turn = await self.service.edit_last(channel_of(interaction), interaction.user.id, text)
                await interaction.response.send_message(
                    f"✏️ <@{interaction.user.id}> edited their turn:\n{echo(turn.text)}",
                    allowed_mentions=NO_PINGS,
                )
                return
            outcome = await self.service.add_turn(channel_of(interaction), interaction.user.id, text)
        except (InputProblem, Blocked) as problem:
            await interaction.response.send_message(
                f"⚠️ {problem} Your text is attached so nothing is lost.",
                file=discord.File(io.BytesIO(text.encode("utf-8")), filename="your-turn.txt"),
                ephemeral=True,
            )
            return
        assert outcome.turn is not None and outcome.player is not None
        if not await npc_story.post_turn(self.bot, interaction, outcome):  # issue 10: as_characters
            await interaction.response.send_message(
                turn_message(outcome.player.name, outcome.story, outcome.turn.text), allowed_mentions=NO_PINGS
            )
        await npc_story.answer_turn(self.bot, interaction, outcome)  # issue 10: an addressed NPC answers first
        await self.runner.apply(outcome)

    @story.command(name="undo", description="Remove the last turn (the starter or a moderator).")
    async def undo(self, interaction: discord.Interaction) -> None:
        outcome = await self.service.undo(channel_of(interaction), actor_of(interaction))
        turn = outcome.turn
        whose = (
            "the narrator's part"
            if turn and turn.kind == "narrator"
            else f"<@{turn.author_id}>'s turn"
            if turn
            else "a turn"
        )
        await interaction.response.send_message(f"↩️ Removed {whose}.", allowed_mentions=NO_PINGS)
        await self.runner.apply(outcome)

    # --- the narrator -------------------------------------------------------------------------------
    @story.command(name="retry", description="Ask the narrator for a new version of its last part.")
    async def retry(self, interaction: discord.Interaction) -> None:
        outcome = await self.service.retry(channel_of(interaction), actor_of(interaction))
        await interaction.response.send_message("🔄 The narrator tries again…")
        await self.runner.apply(outcome)

    @story.command(name="narrate", description="Free mode: ask the narrator to continue now.")
    async def narrate(self, interaction: discord.Interaction) -> None:
        outcome = await self.service.narrate_now(channel_of(interaction), actor_of(interaction))
        await interaction.response.send_message("📖 The narrator takes up the tale…")
        await self.runner.apply(outcome)

    @guarded
    async def on_continue(self, interaction: discord.Interaction, turn_id: int) -> None:
        plan, turn = await self.service.plan_continuation(turn_id, actor_of(interaction))
        await interaction.response.defer()  # the narration's own message goes on
        await interaction.edit_original_response(view=None)  # no second Continue while this one writes
        await self.runner.shows.continuation(interaction, plan, turn)

    @guarded
    async def on_vote(self, interaction: discord.Interaction, vote_id: int, option: int) -> None:
        vote, everyone = await self.service.cast_vote(vote_id, interaction.user.id, option)
        await interaction.response.send_message(
            f"🗳️ You voted for option {option + 1}. You can change your vote until it closes.", ephemeral=True
        )
        if everyone:
            await self.runner.apply(await self.service.close_vote(vote_id))
            return
        view = await self.service.view_of(vote.story_id)
        if interaction.message is not None and view.vote is not None:
            await interaction.message.edit(
                embed=vote_embed(view.story, view.vote, len(view.ballots), len(view.players))
            )

    # --- control ------------------------------------------------------------------------------------
    @story.command(name="pause", description="Pause the story: no turns, no timers (the starter or a moderator).")
    async def pause(self, interaction: discord.Interaction) -> None:
        story = await self.service.pause(channel_of(interaction), actor_of(interaction))
        self.runner.arm(story)
        await interaction.response.send_message("⏸️ The story is paused. `/story resume` continues it.")

    @story.command(name="resume", description="Resume a paused story.")
    async def resume(self, interaction: discord.Interaction) -> None:
        outcome = await self.service.resume(channel_of(interaction), actor_of(interaction))
        await interaction.response.send_message("▶️ The story continues.")
        await self.runner.apply(outcome)

    @story.command(name="end", description="End the story and post the whole of it as a file.")
    async def end(self, interaction: discord.Interaction) -> None:
        outcome = await self.service.end(channel_of(interaction), actor_of(interaction))
        self.runner.cancel(outcome.story.id)
        await interaction.response.send_message(
            f"🏁 <@{interaction.user.id}> ended the story.", allowed_mentions=NO_PINGS
        )
        await self.runner.apply(outcome)  # closes a vote it cut short, then posts the ending

    @story.command(name="note", description="Set the author's note that steers the narrator (empty clears it).")
    @app_commands.describe(text="e.g. 'Keep it light-hearted' or 'A storm is coming'")
    async def note(self, interaction: discord.Interaction, text: str = "") -> None:
        story = await self.service.set_note(channel_of(interaction), actor_of(interaction), text)
        shown = f"“{quote(story.author_note, 300)}”" if story.author_note else "cleared"
        await interaction.response.send_message(f"📝 Author's note {shown}.", ephemeral=True)

    @story.command(name="pin", description="Pin a fact the narrator must never forget.")
    @app_commands.describe(fact="e.g. 'Mira is afraid of water'")
    async def pin(self, interaction: discord.Interaction, fact: str) -> None:
        pin = await self.service.pin(channel_of(interaction), actor_of(interaction), fact)
        await interaction.response.send_message(
            f"📌 Pinned fact #{pin.id}: {quote(pin.text, 300)}", allowed_mentions=NO_PINGS
        )

    @story.command(name="unpin", description="Remove a pinned fact.")
    @app_commands.describe(id="The fact's number, from /story pins")
    async def unpin(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        await self.service.unpin(channel_of(interaction), actor_of(interaction), id)
        await interaction.response.send_message(f"📌 Unpinned fact #{id}.", ephemeral=True)

    # --- reading ------------------------------------------------------------------------------------
    @story.command(name="pins", description="The facts pinned in this story.")
    async def pins(self, interaction: discord.Interaction) -> None:
        pins = await self.service.pins(channel_of(interaction))
        text = "\n".join(f"`#{p.id}` {quote(p.text, 300)}" for p in pins) or "No facts pinned. `/story pin` adds one."
        await interaction.response.send_message(
            f"📌 **Pinned facts**\n{text}"[:2000], ephemeral=True, allowed_mentions=NO_PINGS
        )

    @story.command(name="purge", description="Delete a story's stored text for good (moderators).")
    @app_commands.describe(
        id="The story's number (default: this channel's latest story)",
        lore="Also delete this channel's lore entries",
    )
    async def purge(
        self, interaction: discord.Interaction, id: app_commands.Range[int, 1] | None = None, lore: bool = False
    ) -> None:
        actor = actor_of(interaction)
        story = await self.bot.privacy.story_to_purge(channel_of(interaction), actor, id)

        async def purge() -> str:
            self.runner.cancel(story.id)
            done = await self.bot.privacy.purge_story(story, actor, with_lore=lore)
            also = f", {done.lore} lore entries" if lore else ""
            return (
                f"🧹 Purged story #{story.id}: {done.turns} turns, {done.votes} votes, {done.pins} pins, "
                f"{done.players} players{also}. Messages already posted stay; delete them in Discord."
            )

        await interaction.response.send_message(
            f"🧹 Delete **{quote(story.title, 100)}** (story #{story.id}, {story.phase}) for good: its turns, "
            f"narrations, votes, summary and pins{' and this channel’s lore' if lore else ''}? This cannot be undone.",
            view=Confirm(interaction.user.id, purge, yes="Yes, purge it"),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @story.command(name="status", description="Players, whose turn it is, the round and the word count.")
    async def status(self, interaction: discord.Interaction) -> None:
        view = await self.service.view(channel_of(interaction))
        await interaction.response.send_message(embed=status_embed(view), ephemeral=True, allowed_mentions=NO_PINGS)

    @story.command(name="recap", description="“Previously on…”: a short recap of the story so far.")
    async def recap(self, interaction: discord.Interaction) -> None:
        await defer_public(interaction)
        story, text = await self.bot.narrator.recap(channel_of(interaction))
        body = echo(text) or "…the story has barely begun."
        await answer_deferred(interaction, f"📜 **Previously on** *{quote(story.title, 120)}*…\n\n{body}"[:2000])

    @story.command(name="export", description="The whole story as a file, with credits and chapters.")
    @app_commands.choices(format=FORMATS)
    async def export(self, interaction: discord.Interaction, format: str = "markdown") -> None:
        story, players, turns = await self.service.transcript(channel_of(interaction))
        await interaction.response.defer(thinking=True)
        file = export_story(story, players, turns, format, await self.runner.model_name())
        await interaction.followup.send(
            f"📜 *{quote(story.title, 120)}* — {len(turns)} turns.",
            file=discord.File(io.BytesIO(file.content), filename=file.filename),
            allowed_mentions=NO_PINGS,
        )
