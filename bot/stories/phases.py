"""The one place that words a story's phase: as a status line, and as the end of "while the story is …"."""

from __future__ import annotations

from storage.stories import Phase, Story

__all__ = ["Phase", "doing", "status"]

_STATUS = {
    Phase.LOBBY: "🚪 Gathering players",
    Phase.TURNS: "✍️ Players' turns",
    Phase.NARRATING: "📖 The narrator is writing",
    Phase.VOTING: "🗳️ Voting on what happens next",
    Phase.HELD: "⏸️ Waiting for `/story retry`",
    Phase.ENDED: "🏁 Ended",
}
_DOING = {
    Phase.LOBBY: "still gathering players",
    Phase.NARRATING: "waiting for the narrator",
    Phase.VOTING: "voting on what happens next",
    Phase.HELD: "waiting for `/story retry`",
    Phase.TURNS: "taking turns",
    Phase.ENDED: "over",
}


def status(phase: Phase) -> str:
    """The phase as a status line ("✍️ Players' turns")."""
    return _STATUS[phase]


def doing(story: Story) -> str:
    """What the story is doing, to end a sentence like "You cannot add a turn while the story is …"."""
    return "paused" if story.paused else _DOING[story.phase]
