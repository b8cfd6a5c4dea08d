"""Feedback on what the bot writes, kept for learning from play. Knows nothing of Discord.

Every text the bot shows (a poem, a narration; later rewrites and NPC lines) is recorded as an item with
the exact prompt the model saw, so players can rate it (one rating per user, changeable) and an export
can teach a model from it. Some actions say more than a rating: a vote's winner is preferred over the
other takes; a regenerated poem or another take is preferred over the text it replaced; saving a poem
to the anthology approves it. Each row keeps the server's `training_consent` at the time it was written.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.errors import NotFound
from storage import feedback as repo
from storage.db import Database
from storage.feedback import Forgotten, Item, Messages, Pair, Tally

ConsentLookup = Callable[[int], Awaitable[bool]]
RATINGS = {"up": 1, "down": -1}


async def no_consent(guild_id: int) -> bool:
    """The default until a server's moderators opt in."""
    return False


@dataclass(frozen=True)
class Rated:
    item: Item
    rating: int
    previous: int | None
    tally: Tally


class FeedbackService:
    def __init__(
        self, db: Database, consent: ConsentLookup = no_consent, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._consent = consent
        self._now = clock

    def use_consent(self, consent: ConsentLookup) -> None:
        self._consent = consent

    async def consent(self, guild_id: int) -> bool:
        return bool(await self._consent(guild_id))

    async def written(
        self,
        kind: str,
        guild_id: int,
        prompt: Messages,
        text: str,
        *,
        poem_id: int | None = None,
        turn_id: int | None = None,
        requester_id: int | None = None,
    ) -> Item:
        """Record a text the bot showed, with the prompt that produced it; its id goes on the rating buttons."""
        consent = await self.consent(guild_id)
        async with self._db.transaction() as conn:
            return await repo.add_item(
                conn, guild_id=guild_id, kind=kind, prompt=prompt, text=text, consent=consent, poem_id=poem_id,
                turn_id=turn_id, requester_id=requester_id, now=self._now(),
            )  # fmt: skip

    async def rate(self, item_id: int, guild_id: int, user_id: int, rating: int) -> Rated:
        """Record (or change) one user's rating of an item on this server."""
        if rating not in (1, -1):
            raise ValueError(f"a rating is 1 or -1, not {rating!r}")
        consent = await self.consent(guild_id)
        async with self._db.transaction() as conn:
            item = await repo.get_item(conn, item_id)
            if item is None or item.guild_id != guild_id:
                raise NotFound("That text is no longer kept, so it cannot be rated.")
            previous = await repo.rating_of(conn, item_id, user_id)
            await repo.rate(conn, item_id, user_id, rating, consent, self._now())
            return Rated(item, rating, previous, await repo.tally(conn, item_id))

    async def poem_saved(self, poem_id: int, user_id: int) -> None:
        """Saving a poem to the anthology approves the text it has now."""
        async with self._db.transaction() as conn:
            item = await repo.latest_for_poem(conn, poem_id)
            if item is not None:
                await repo.approve(conn, item.id, user_id, self._now())

    async def latest_item(self, poem_id: int) -> int | None:
        """The id of the poem's current text's item (its rating buttons), if it has one."""
        async with self._db.read() as conn:
            item = await repo.latest_for_poem(conn, poem_id)
        return item.id if item else None

    async def replaced(
        self,
        source: str,
        guild_id: int,
        user_id: int,
        prompt: Messages,
        chosen: str,
        rejected: str,
        *,
        poem_id: int,
        old_poem_id: int | None = None,
    ) -> Pair | None:
        """A user asked for a new text instead of `rejected` ("regenerate" or "another"); `chosen` is the
        text they got. Nothing is recorded when either is empty or they are the same."""
        if not chosen.strip() or not rejected.strip() or chosen.strip() == rejected.strip():
            return None
        consent = await self.consent(guild_id)
        async with self._db.transaction() as conn:
            return await repo.add_pair(
                conn, guild_id=guild_id, source=source, prompt=prompt, chosen=chosen, rejected=rejected,
                consent=consent, user_id=user_id, poem_id=poem_id, old_poem_id=old_poem_id, now=self._now(),
            )  # fmt: skip

    async def vote_drafted(self, vote_id: int, guild_id: int, prompt: Messages) -> None:
        """Keep the exact prompt a vote's takes were written from, for the pairs its result makes."""
        consent = await self.consent(guild_id)
        async with self._db.transaction() as conn:
            await repo.set_vote_prompt(conn, vote_id, guild_id, prompt, consent, self._now())

    async def vote_closed(
        self, vote_id: int, guild_id: int, options: tuple[str, ...], winner: int, turn_id: int | None
    ) -> Item | None:
        """The players chose `options[winner]`: it is preferred over each other take, and it becomes an
        approved narration item (returned, for its rating buttons). Nothing if the prompt was never kept."""
        async with self._db.transaction() as conn:
            kept = await repo.vote_prompt(conn, vote_id)
            if kept is None or not 0 <= winner < len(options):
                return None
            prompt, consent = kept
            if not await repo.pairs_for_vote(conn, vote_id):
                for index, rejected in enumerate(options):
                    if index != winner and rejected != options[winner]:
                        await repo.add_pair(
                            conn, guild_id=guild_id, source="vote", prompt=prompt, chosen=options[winner],
                            rejected=rejected, consent=consent, vote_id=vote_id, now=self._now(),
                        )  # fmt: skip
            item = await repo.add_item(
                conn, guild_id=guild_id, kind="narration", prompt=prompt, text=options[winner], consent=consent,
                turn_id=turn_id, now=self._now(),
            )  # fmt: skip
            await repo.approve(conn, item.id, None, self._now())
            return item

    async def forget_user(self, user_id: int) -> Forgotten:
        """Remove a user's feedback, and feedback that may quote them, from every server."""
        async with self._db.transaction() as conn:
            return await repo.forget_user(conn, user_id)


def parse_rating(word: str) -> int:
    try:
        return RATINGS[word]
    except KeyError:
        raise NotFound(f"There is no rating called {word!r}.") from None
