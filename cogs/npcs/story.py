"""NPCs and characters inside story rounds (issue 10), the Discord side. The story cog calls these at
clearly marked call sites, so the story code itself stays as it was:

- `answer_turn` (after a player's turn is stored, before the narrator continues): an NPC of the channel's
  scene that the turn addresses answers through the channel's webhook; its line becomes an 'npc' story turn.
- `post_turn` (instead of the usual public echo of a `/story add` turn): in an `as_characters` story the
  turn is posted through the channel's webhook under the character's name and the player's avatar.
- `take_message` (the NPC cog's message listener, with NPC_MESSAGE_CONTENT on): in an `as_characters`
  story a player's plain message is their turn, Tupperbox-style: stored once, re-posted under the
  character's name, the original deleted when the bot has Manage Messages (else left where it is).
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.app import Taleweaver
from bot.config import Place
from bot.errors import UserFacingError
from bot.llm.client import EngineError
from bot.npcs.model import Npc
from bot.stories.results import Outcome
from cogs.npcs.admission import admitted, place_of_channel
from cogs.ui import place_of

log = logging.getLogger(__name__)

OUT_OF_CHARACTER = ("(", "//")  # a plain message starting so is table talk, never a turn

Stage = discord.TextChannel | discord.Thread


def _voice(bot: Taleweaver) -> Any:
    """The NPC cog's webhook voice, or None when the NPC cog is not loaded."""
    return getattr(bot.get_cog("Npcs"), "voice", None)


def character(name: str, user: discord.abc.User) -> Npc:
    """A player's character as a speaker: the character's name, the player's Discord avatar."""
    return Npc(name=name, avatar_url=user.display_avatar.url)


async def answer_turn(bot: Taleweaver, interaction: discord.Interaction, outcome: Outcome) -> None:
    """Call site: cogs/stories/cog.py `submit_turn`, before `runner.apply`."""
    if isinstance(interaction.channel, Stage):
        await _npc_answers(bot, interaction.channel, place_of(interaction), outcome)


async def _npc_answers(bot: Taleweaver, channel: Stage, place: Place, outcome: Outcome) -> None:
    """The NPC the turn addresses answers through the webhook; kept as an 'npc' turn. Never raises for the
    NPC's sake (no webhook, rate limit, engine down): the story goes on without the answer."""
    turn, player, voice = outcome.turn, outcome.player, _voice(bot)
    if turn is None or player is None or voice is None or turn.kind != "player":
        return
    try:
        npc = await bot.npc_story.addressee(channel.id, turn.text)
        if npc is None or not (await bot.config.at(place)).npcs_enabled:
            return
        async with channel.typing():
            line = await bot.npc_story.answer(outcome.story, turn, player.name, npc)
        await bot.npc_talk.posted(line, await voice.speak(channel, npc, line.shown))
        await bot.npc_story.record(outcome.story, turn, line)
    except (UserFacingError, EngineError, discord.HTTPException) as exc:  # RateLimited is a UserFacingError
        log.info("no NPC answer to turn %s in %s: %s", turn.id, channel.id, exc)


async def post_turn(bot: Taleweaver, interaction: discord.Interaction, outcome: Outcome) -> bool:
    """Call site: cogs/stories/cog.py `submit_turn`, in place of the turn's public echo. In an `as_characters`
    story the turn goes out under the character's name and the player is told privately. Returns False (the
    caller echoes the turn as usual) for other stories."""
    turn, player, channel, voice = outcome.turn, outcome.player, interaction.channel, _voice(bot)
    if turn is None or player is None or voice is None or not isinstance(channel, Stage):
        return False
    if not await bot.npc_story.as_characters(outcome.story.id):
        return False
    name = discord.utils.escape_markdown(player.name)
    await interaction.response.send_message(f"🎭 Your turn is in the story, as **{name}**.", ephemeral=True)
    await voice.speak(channel, character(player.name, interaction.user), turn.text)
    return True


async def take_message(bot: Taleweaver, message: discord.Message) -> bool:
    """Call site: cogs/npcs/scene.py `on_human_message`. True when the message was taken as a story turn
    (then the NPC listener leaves it alone). Anything that is not a turn (not a player, not their turn,
    table talk, no such story) is left untouched and returns False."""
    channel, runner, voice = message.channel, _runner(bot), _voice(bot)
    if message.guild is None or not isinstance(channel, Stage) or runner is None or voice is None:
        return False
    text = message.content
    if not text.strip() or text.lstrip().startswith(OUT_OF_CHARACTER):
        return False
    story = await bot.npc_story.proxied_story(channel.id, message.author.id)
    if story is None:
        return False
    place = place_of_channel(message.guild.id, channel)
    if await admitted(bot, place, message.author.id, text, "stories", what=f"message {message.id}") is None:
        return False
    try:
        outcome = await bot.stories.add_turn(channel.id, message.author.id, text)
    except UserFacingError as refused:  # not their turn, too long, the narrator is writing...
        log.info("message %s is not a turn: %s", message.id, refused)
        return False
    assert outcome.turn is not None and outcome.player is not None
    await voice.speak(channel, character(outcome.player.name, message.author), outcome.turn.text)
    await _remove_original(message)
    await _npc_answers(bot, channel, place, outcome)
    await runner.apply(outcome)
    return True


async def _remove_original(message: discord.Message) -> None:
    """Delete the player's message once its turn is re-posted, only where the bot may (Manage Messages)."""
    channel = message.channel
    me = message.guild.me if message.guild is not None else None
    if me is None or not isinstance(channel, Stage) or not channel.permissions_for(me).manage_messages:
        return
    try:
        await message.delete()
    except discord.HTTPException as exc:  # deleted meanwhile, or permissions changed: the turn is kept
        log.info("could not remove the proxied message %s: %s", message.id, exc)


def _runner(bot: Taleweaver) -> Any:
    return getattr(bot.get_cog("Stories"), "runner", None)
