"""How stories look in Discord: lobby, status and vote embeds, and the short notices."""

from __future__ import annotations

import discord

from bot.stories.phases import Phase, status
from bot.stories.service import StoryView
from bot.text import echo, quote, truncate
from storage.stories import Player, Story
from storage.votes import Vote

COLOUR = discord.Colour.dark_teal()
NARRATOR = "📖 **The narrator**"


def mode_line(story: Story) -> str:
    if story.round_robin:
        mode = "Round-robin"
        if story.turn_timeout:
            mode += f" · {_duration(story.turn_timeout)} per turn"
    else:
        mode = f"Free · the narrator answers every {story.narrate_every} contribution(s)"
    rounds = f" · {story.max_rounds} rounds" if story.max_rounds else ""
    choices = f" · players choose between {story.choices} continuations" if story.choices else ""
    return mode + rounds + choices


def lobby_embed(view: StoryView) -> discord.Embed:
    story = view.story
    embed = discord.Embed(title=f"📚 {echo(truncate(story.title, 240))}", colour=COLOUR)
    embed.description = f"*{quote(story.genre, 60)}*\n\n{echo(truncate(story.premise, 3000))}"
    embed.add_field(name="How", value=mode_line(story), inline=False)
    embed.add_field(
        name=f"Players ({len(view.players)})", value=player_list(view.players) or "nobody yet", inline=False
    )
    state = status(story.phase) if story.phase != Phase.LOBBY else "Press **Join**; the starter presses **Start**."
    embed.add_field(name="Status", value=state, inline=False)
    return embed


def player_list(players: list[Player], current: Player | None = None) -> str:
    lines = []
    for index, p in enumerate(players, start=1):
        marker = "▶️" if current and p.user_id == current.user_id else f"{index}."
        lines.append(f"{marker} <@{p.user_id}> as **{quote(p.name, 40)}**")
    return truncate("\n".join(lines), 1024)


def status_embed(view: StoryView) -> discord.Embed:
    story = view.story
    embed = discord.Embed(title=f"📚 {echo(truncate(story.title, 240))}", colour=COLOUR)
    phase = status(story.phase) + (" · ⏸️ paused" if story.paused else "")
    embed.add_field(name="Status", value=phase)
    round_text = "opening" if story.round == 0 else str(story.round)
    if story.max_rounds:
        round_text += f" of {story.max_rounds}"
    embed.add_field(name="Round", value=round_text)
    turns, words = view.stats.turns, view.stats.words
    embed.add_field(name="Length", value=f"{words:,} word{'s' * (words != 1)} · {turns} turn{'s' * (turns != 1)}")
    embed.add_field(name="How", value=mode_line(story), inline=False)
    embed.add_field(name="Players", value=player_list(view.players, view.current) or "nobody", inline=False)
    if view.current:
        due = f" · skipped <t:{int(story.deadline)}:R>" if story.deadline else ""
        embed.add_field(name="Whose turn", value=f"<@{view.current.user_id}>{due}", inline=False)
    elif not story.round_robin and story.phase == Phase.TURNS:
        left = max(0, story.narrate_every - view.round_contributions)
        embed.add_field(name="Narrator", value=f"answers after {left} more contribution(s), or `/story narrate`")
    if view.vote:
        embed.add_field(
            name="Vote", value=f"{len(view.ballots)}/{len(view.players)} voted · closes <t:{int(view.vote.deadline)}:R>"
        )
    return embed


def vote_embed(story: Story, vote: Vote, voters: int, players: int) -> discord.Embed:
    room = 3900 // max(1, len(vote.options))
    parts = [f"**Option {i + 1}**\n{echo(truncate(text, room))}" for i, text in enumerate(vote.options)]
    embed = discord.Embed(title="🗳️ What happens next?", description="\n\n".join(parts), colour=COLOUR)
    if vote.closed_at is None:
        embed.set_footer(text=f"{voters}/{players} players voted · ties go to the earlier option")
        embed.add_field(name="Closes", value=f"<t:{int(vote.deadline)}:R>")
    return embed


def vote_result(winner: int, tally: list[int]) -> str:
    counts = " · ".join(f"option {i + 1}: {n}" for i, n in enumerate(tally))
    if not any(tally):
        return f"🗳️ Nobody voted, so option {winner + 1} was chosen. ({counts})"
    tied = tally.count(max(tally)) > 1
    return f"🗳️ Option {winner + 1} wins{' (a tie goes to the earlier option)' if tied else ''}. ({counts})"


def turn_message(name: str, story: Story, text: str) -> str:
    return f"**{quote(name, 40)}** · round {story.round}\n{echo(text)}"


def narrator_header(story: Story | int) -> str:
    """The narrator's heading for a story's current round (or for the given round)."""
    round_ = story if isinstance(story, int) else story.round
    label = "Prologue" if round_ == 0 else f"Round {round_}"
    return f"{NARRATOR} · {label}\n\n"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
