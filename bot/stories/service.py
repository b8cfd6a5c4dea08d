"""Multiplayer story rounds: the rules and their persistence. Knows nothing of Discord.

A story lives in one channel and moves through phases:

    lobby -> narrating (the opening) -> turns -> narrating -> turns -> ... -> ended
                                          |         \\-> voting (group choice) -> turns
                                          \\-> held (narration failed or was undone: waiting for /story retry)

Every change is one transaction, and everything needed to resume after a restart (phase, round,
deadline, open vote) is stored. Methods return an `Outcome` that tells the caller what to do next
(ping a player, narrate, arm a timer); the caller owns time and Discord, this class owns the rules.
"""

from __future__ import annotations

from dataclasses import replace

from bot.errors import Conflict, NotAllowed, NotFound
from bot.moderation import Actor
from bot.npcs.story import undo_with_answer  # issue 10: NPC turns in story rounds
from bot.stories.core import NO_STORY
from bot.stories.narrating import NarrationSteps
from bot.stories.phases import Phase, doing
from bot.stories.results import NarrationKind, NarrationPlan, Outcome, StoryView, VoteResult
from bot.stories.rules import (
    MAX_PINS,
    MAX_PLAYERS,
    NOTE_LIMIT,
    PIN_LIMIT,
    TURN_LIMIT,
    StoryOptions,
    contributions,
    vote_seconds,
    word_count,
)
from bot.text import clean_input, quote
from storage import stories as repo
from storage import turns as turn_repo
from storage import votes as vote_repo
from storage.stories import Player, Story
from storage.turns import Turn

__all__ = ["NO_STORY", "NarrationKind", "NarrationPlan", "Outcome", "StoryService", "StoryView", "VoteResult"]


class StoryService(NarrationSteps):
    # --- lobby --------------------------------------------------------------------------------------
    async def create(
        self, guild_id: int, channel_id: int, starter_id: int, starter_name: str, options: StoryOptions
    ) -> Story:
        options = options.validated()
        name = self._name(starter_name)
        async with self._db.transaction() as conn:
            if await repo.open_in_channel(conn, channel_id):
                raise Conflict("A story is already running in this channel. `/story status` shows it.")
            story = await repo.create(
                conn,
                guild_id=guild_id,
                channel_id=channel_id,
                starter_id=starter_id,
                title=options.title,
                genre=options.genre,
                premise=options.premise,
                mode=options.mode,
                turn_timeout=options.turn_timeout,
                max_rounds=options.max_rounds,
                narrate_every=options.narrate_every,
                choices=options.choices,
                now=self._now(),
            )
            await repo.join(conn, story.id, starter_id, name, self._now())
        return story

    async def set_lobby_message(self, story_id: int, message_id: int) -> None:
        async with self._db.transaction() as conn:
            await repo.update(conn, story_id, lobby_message_id=message_id)

    async def join(self, story_id: int, user_id: int, name: str) -> tuple[Outcome, Player]:
        name = self._name(name)
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            players = await repo.players(conn, story.id)
            if any(p.user_id == user_id for p in players):
                raise Conflict("You are already in this story. `/story join character:…` renames your character.")
            if len(players) >= MAX_PLAYERS:
                raise Conflict(f"This story is full ({MAX_PLAYERS} players).")
            player = await repo.join(conn, story.id, user_id, name, self._now())
            outcome = await self._advance(conn, story) if story.phase == Phase.HELD and not players else Outcome(story)
        return outcome, player

    async def rename(self, story_id: int, user_id: int, name: str) -> tuple[Player, Player]:
        """A player's character takes a new name (same rules as joining). Returns (before, after)."""
        name = self._name(name)
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            before = next((p for p in await repo.players(conn, story.id) if p.user_id == user_id), None)
            if before is None:
                raise NotFound("You are not in this story. `/story join` joins it.")
            after = await repo.rename(conn, story.id, user_id, name)
        assert after is not None
        return before, after

    async def leave(self, story_id: int, user_id: int) -> tuple[Outcome, Player]:
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            players = await repo.players(conn, story.id)
            player = next((p for p in players if p.user_id == user_id), None)
            if player is None:
                raise NotFound("You are not in this story.")
            current = await self._current(conn, story, players)
            await repo.leave(conn, story.id, user_id, self._now())
            outcome = Outcome(story)
            if story.phase == Phase.TURNS and (current is None or current.user_id == user_id or len(players) == 1):
                outcome = await self._advance(conn, story)
        return outcome, player

    async def begin(self, story_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._story(conn, story_id)
            by_moderator = await self._require_control(story, actor, "start the story")
            if story.phase != Phase.LOBBY:
                raise Conflict("This story has already started.")
            if not await repo.players(conn, story.id):
                raise Conflict("Nobody has joined yet.")
            story = await repo.update(conn, story.id, phase=Phase.NARRATING, round=0)
            await self._audit(conn, by_moderator, story, actor, "story.start")
        return Outcome(story, narrate=True)

    # --- turns --------------------------------------------------------------------------------------
    async def add_turn(self, channel_id: int, user_id: int, text: str) -> Outcome:
        text = clean_input(text, field="turn", max_length=TURN_LIMIT)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            self._require_writable(story)
            players = await repo.players(conn, story.id)
            if not any(p.user_id == user_id for p in players):
                raise NotAllowed("You are not in this story. Press **Join** on the lobby message or use `/story join`.")
            current = await self._current(conn, story, players)
            if story.round_robin and (current is None or current.user_id != user_id):
                waiting_for = f"**{quote(current.name, 40)}**" if current else "the narrator"
                raise NotAllowed(f"It is not your turn yet: the story is waiting for {waiting_for}.")
            turn = await turn_repo.add(
                conn, story.id, round=story.round, kind="player", author_id=user_id, text=text,
                tokens=self.memory.counter.count(text), words=word_count(text), now=self._now(),
            )  # fmt: skip
            outcome = await self._advance(conn, story)
        player = next(p for p in players if p.user_id == user_id)
        return replace(outcome, turn=turn, player=player)

    async def edit_last(self, channel_id: int, user_id: int, text: str) -> Turn:
        text = clean_input(text, field="turn", max_length=TURN_LIMIT)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            mine = [t for t in await turn_repo.in_round(conn, story.id, story.round) if t.author_id == user_id]
            mine = [t for t in mine if t.kind == "player"]
            if not mine or story.phase not in (Phase.TURNS, Phase.HELD):
                raise NotAllowed(
                    "You can only edit your own turn in the current round, before the narrator weaves it in."
                )
            turn = mine[-1]
            await turn_repo.edit(conn, turn.id, text, self.memory.counter.count(text), word_count(text), self._now())
        return replace(turn, text=text)

    async def expire(self, story_id: int, deadline: float) -> Outcome | VoteResult | None:
        """A timer fired: skip the player whose turn timed out, or close the vote. Stale timers do nothing."""
        async with self._db.transaction() as conn:
            story = await repo.get(conn, story_id)
            if story is None or story.paused or story.deadline != deadline or self._now() < deadline:
                return None
            if story.phase == Phase.VOTING:
                vote = await vote_repo.open_for(conn, story.id)
                return await self._close_vote(conn, story, vote) if vote else None
            players = await repo.players(conn, story.id)
            current = await self._current(conn, story, players)
            if story.phase != Phase.TURNS or current is None:
                return None
            skip = await turn_repo.add(
                conn, story.id, round=story.round, kind="skip", author_id=current.user_id, text="",
                tokens=0, words=0, now=self._now(),
            )  # fmt: skip
            outcome = await self._advance(conn, story)
        return replace(outcome, turn=skip, skipped=current)

    async def undo(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "undo turns")
            if story.phase in (Phase.NARRATING, Phase.VOTING, Phase.LOBBY):
                raise Conflict(f"Nothing can be undone while the story is {doing(story)}.")
            last = await turn_repo.last(conn, story.id)
            if last is None:
                raise NotFound("There is nothing to undo yet.")
            last = await undo_with_answer(conn, story.id, last)  # issue 10: an NPC's answer goes with its turn
            if last.seq <= story.summary_upto:  # its seq would be reused by a turn the prompt then skips
                raise Conflict("That part is already folded into the story's summary, so it can no longer be undone.")
            await turn_repo.delete(conn, last.id)
            await self._audit(conn, by_moderator, story, actor, "story.undo", turn=last.seq, author=last.author_id)
            if last.kind == "narrator":
                story = await repo.update(conn, story.id, round=last.round, phase=Phase.HELD, deadline=None)
                note = (
                    "The narrator's last part was removed. `/story retry` writes a new one; "
                    "`/story undo` goes further back."
                )
                return Outcome(story, turn=last, note=note)
            story = await repo.update(conn, story.id, phase=Phase.TURNS)
            outcome = await self._advance(conn, story)
        return replace(outcome, turn=last)

    async def retry(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            if story.phase in (Phase.LOBBY, Phase.NARRATING) or story.paused:
                raise Conflict(f"There is nothing to retry while the story is {doing(story)}.")
            cancelled = await self._cancel_vote(conn, story) if story.phase == Phase.VOTING else None
            if story.phase == Phase.TURNS:
                last = await turn_repo.last(conn, story.id)
                if last is None or last.kind != "narrator":
                    raise Conflict(
                        "Players have written since the narrator's last part, so it stays. `/story undo` first."
                    )
                await turn_repo.delete(conn, last.id)
                story = await repo.update(conn, story.id, round=last.round)
            story = await repo.update(conn, story.id, phase=Phase.NARRATING, deadline=None)
            await self._audit(conn, by_moderator, story, actor, "story.retry")
        return Outcome(story, narrate=True, cancelled_vote=cancelled)

    async def narrate_now(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            if story.round_robin:
                raise Conflict(
                    "In round-robin mode the narrator answers after each round. Use `/story retry` to redo it."
                )
            self._require_writable(story)
            if not contributions(await turn_repo.in_round(conn, story.id, story.round)):
                raise Conflict("Nobody has written since the narrator's last part. Add a turn first.")
            story = await repo.update(conn, story.id, phase=Phase.NARRATING, deadline=None)
            await self._audit(conn, by_moderator, story, actor, "story.narrate")
        return Outcome(story, narrate=True)

    # --- control ------------------------------------------------------------------------------------
    async def pause(self, channel_id: int, actor: Actor) -> Story:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "pause the story")
            if story.paused or story.phase == Phase.LOBBY:
                raise Conflict("The story is already paused." if story.paused else "The story has not started.")
            await self._audit(conn, by_moderator, story, actor, "story.pause")
            return await repo.update(conn, story.id, paused=1, deadline=None)

    async def resume(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "resume the story")
            if not story.paused:
                raise Conflict("The story is not paused.")
            await self._audit(conn, by_moderator, story, actor, "story.resume")
            story = await repo.update(conn, story.id, paused=0)
            if story.phase == Phase.VOTING:
                deadline = self._now() + vote_seconds(story)
                vote = await vote_repo.open_for(conn, story.id)
                if vote:
                    await vote_repo.set_deadline(conn, vote.id, deadline)
                return Outcome(await repo.update(conn, story.id, deadline=deadline))
            if story.phase == Phase.NARRATING:  # paused mid-narration, perhaps across a restart: ask again
                return Outcome(story, narrate=True)
            return await self._advance(conn, story, resuming=True)

    async def end(self, channel_id: int, actor: Actor) -> Outcome:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "end the story")
            await self._audit(conn, by_moderator, story, actor, "story.end")
            cancelled = await self._cancel_vote(conn, story)
            story = await repo.update(conn, story.id, phase=Phase.ENDED, ended_at=self._now(), deadline=None)
        return Outcome(story, cancelled_vote=cancelled)

    async def set_note(self, channel_id: int, actor: Actor, note: str) -> Story:
        note = clean_input(note, field="author's note", max_length=NOTE_LIMIT, min_length=0)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_control(story, actor, "change the author's note")
            await self._audit(conn, by_moderator, story, actor, "story.note", note=note)
            return await repo.update(conn, story.id, author_note=note)

    async def pin(self, channel_id: int, actor: Actor, fact: str) -> repo.Pin:
        fact = clean_input(fact, field="fact", max_length=PIN_LIMIT)
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            if len(await repo.pins(conn, story.id)) >= MAX_PINS:
                raise Conflict(f"A story can pin at most {MAX_PINS} facts; `/story unpin` one first.")
            pin = await repo.add_pin(conn, story.id, actor.user_id, fact, self._now())
            await self._audit(conn, by_moderator, story, actor, "story.pin", pin=pin.id, fact=fact)
            return pin

    async def unpin(self, channel_id: int, actor: Actor, pin_id: int) -> None:
        async with self._db.transaction() as conn:
            story = await self._open(conn, channel_id)
            by_moderator = await self._require_player_or_control(conn, story, actor)
            removed = await repo.remove_pin(conn, story.id, pin_id)
            if removed is None:
                raise NotFound(f"This story has no pinned fact #{pin_id}. `/story pins` lists them.")
            await self._audit(conn, by_moderator, story, actor, "story.unpin", pin=pin_id, fact=removed.text)

    # --- reading ------------------------------------------------------------------------------------
    async def story_in(self, channel_id: int) -> Story:
        """The channel's open story: what a command typed there refers to. Raises NotFound."""
        async with self._db.read() as conn:
            return await self._open(conn, channel_id)

    async def player(self, story_id: int, user_id: int) -> Player | None:
        """The user's character in the story, if they play in it."""
        async with self._db.read() as conn:
            return next((p for p in await repo.players(conn, story_id) if p.user_id == user_id), None)

    async def view(self, channel_id: int) -> StoryView:
        async with self._db.read() as conn:
            story = await self._open(conn, channel_id)
            return await self._view(conn, story)

    async def view_of(self, story_id: int) -> StoryView:
        async with self._db.read() as conn:
            return await self._view(conn, await self._story(conn, story_id))

    async def open_stories(self) -> list[Story]:
        async with self._db.read() as conn:
            return await repo.all_open(conn)

    async def pins(self, channel_id: int) -> list[repo.Pin]:
        async with self._db.read() as conn:
            return await repo.pins(conn, (await self._open(conn, channel_id)).id)

    async def transcript(self, channel_id: int) -> tuple[Story, list[Player], list[Turn]]:
        """The open story, or the channel's latest ended one, with every player and turn (for export)."""
        async with self._db.read() as conn:
            story = await repo.latest_in_channel(conn, channel_id)
            if story is None:
                raise NotFound("No story has been told in this channel yet.")
            return story, await repo.players(conn, story.id, active_only=False), await turn_repo.all_of(conn, story.id)
