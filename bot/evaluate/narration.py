"""Narration metrics: does the narrator speak for a player, talk as "I", repeat itself, or fail?

The player detector is the one stories use (`bot.stories.prompts`), applied to every line of a take as the
model wrote it (with the production stop sequences), before `clean_narration` would cut it away.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from bot.evaluate.metrics import tokens
from bot.stories.prompts import _speaks_for_player as speaks_as_player  # the stories' own detector
from bot.stories.prompts import clean_narration
from storage.stories import Player

COPY_RUN = 8  # words copied in a row from an earlier narration that count as repeating it
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|「[^」]*」|『[^』]*』|‘[^’]*’")
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I'll|I've|I'd|me|my|mine|myself)\b|我(?!们|們)", re.IGNORECASE)


def speaks_for_player(text: str, names: Sequence[str]) -> bool:
    """Some line of the take speaks as a player's character ("Alice: I draw my sword")."""
    return any(speaks_as_player(line, list(names)) for line in text.replace("\r", "").split("\n"))


def first_person(text: str) -> bool:
    """The narrator talks as "I" outside quoted speech (an NPC's quoted "I" is fine)."""
    outside = _QUOTED.sub(" ", text.replace("’", "'"))
    return _FIRST_PERSON.search(outside) is not None


def copied_run(text: str, earlier: Sequence[str]) -> int:
    """The longest run of words the take copies, in order, from any earlier narration."""
    words = tokens(text)
    longest = 0
    for previous in earlier:
        other = tokens(previous)
        match = SequenceMatcher(None, words, other, autojunk=False).find_longest_match(0, len(words), 0, len(other))
        longest = max(longest, match.size)
    return longest


def unusable(text: str, players: Sequence[Player], truncated: bool = False) -> bool:
    """Nothing is left once the take is cleaned the way stories clean it: the story would have to retry."""
    return not clean_narration(text, list(players), truncated=truncated)
