"""A finished (or running) story as a file: title, credits, chapter breaks, every turn in order."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

from bot.text import echo
from storage.stories import Player, Story
from storage.turns import Turn

FORMATS = ("markdown", "text", "fountain")
EXTENSIONS = {"markdown": "md", "text": "txt", "fountain": "fountain"}


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content: bytes


def filename_for(story: Story, fmt: str) -> str:
    words = re.sub(r"[^\w\- ]+", "", story.title, flags=re.UNICODE).lower()
    stem = re.sub(r"[ -]+", "-", words).strip("-")[:60].rstrip("-")  # no leading "-": not an option to a shell tool
    return f"{stem or 'story'}-{story.id}.{EXTENSIONS.get(fmt, 'txt')}"


def export_story(story: Story, players: list[Player], turns: list[Turn], fmt: str, model: str = "") -> ExportFile:
    """Every user- and model-written string goes through `echo`: a file is read in Discord's viewer too."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    md = fmt == "markdown"
    filename = filename_for(story, fmt)
    story = replace(story, title=echo(story.title), genre=echo(story.genre), premise=echo(story.premise))
    players = [replace(p, name=echo(p.name)) for p in players]
    turns = [replace(t, text=echo(t.text)) for t in turns]
    if fmt == "fountain":
        return ExportFile(filename, fountain(story, players, turns, model).encode("utf-8"))
    names = {p.user_id: p.name for p in players}
    counts: dict[int, int] = {}
    for turn in turns:
        if turn.kind == "player" and turn.author_id is not None:
            counts[turn.author_id] = counts.get(turn.author_id, 0) + 1
    when = time.strftime("%Y-%m-%d", time.gmtime(story.created_at))
    out: list[str] = [f"# {story.title}" if md else story.title.upper(), ""]
    out.append(_para(f"A {story.genre} story begun on {when}, told by {_cast(players)} with Taleweaver narrating.", md))
    out += ["", (f"> {story.premise}" if md else f"Premise: {story.premise}"), ""]
    chapter = None
    for turn in turns:
        if turn.kind == "skip":
            continue
        if turn.round != chapter:
            chapter = turn.round
            title = "Prologue" if chapter == 0 else f"Chapter {chapter}"
            out += [f"## {title}" if md else f"--- {title} ---", ""]
        if turn.kind == "narrator":
            out += [turn.text, ""]
        else:
            name = echo(turn.speaker) or names.get(turn.author_id or 0, "A player")  # speaker: an NPC's (issue 10)
            out += [f"**{_md(name)}:** {turn.text}" if md else f"{name}: {turn.text}", ""]
    out += ["---" if md else "-" * 40, "", "## Credits" if md else "CREDITS", ""]
    for player in players:
        n = counts.get(player.user_id, 0)
        line = f"{player.name} — {n} turn{'s' if n != 1 else ''}"
        out.append(f"- {_md(line)}" if md else f"  {line}")
    narrator = f"Narrator: Taleweaver{f' ({model})' if model else ''}"
    out.append(f"- {_md(narrator)}" if md else f"  {narrator}")
    if story.ended_at is None:
        out += ["", _para("(This story is still being told.)", md)]
    return ExportFile(filename, ("\n".join(out).rstrip() + "\n").encode("utf-8"))


def _cast(players: list[Player]) -> str:
    names = [p.name for p in players]
    if not names:
        return "nobody"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _md(text: str) -> str:
    return re.sub(r"([\\*_`])", r"\\\1", text)


def _para(text: str, md: bool) -> str:
    return f"*{_md(text)}*" if md else text


def fountain(story: Story, players: list[Player], turns: list[Turn], model: str = "") -> str:
    """The story as a screenplay in Fountain (https://fountain.io): a title page, a scene heading per
    chapter, the narration as action, each player's turn as dialogue under their character's cue.

    Everything is forced (`.` scene headings, `@` cues, `!` action), so a narration that happens to read
    "INT. HALL" or "CUT TO:" stays what it is, and notes (`[[`) and boneyards (`/*`) cannot hide text."""
    names = {p.user_id: p.name for p in players}
    when = time.strftime("%Y-%m-%d", time.gmtime(story.created_at))
    narrator = f"Taleweaver{f' ({model})' if model else ''}"
    out = [
        f"Title: {_one_line(story.title)}",
        "Credit: A story told by",
        f"Author: {_one_line(_cast(players))} and {narrator}",
        f"Draft date: {when}",
        f"Notes: {_one_line(story.genre)}. {_one_line(story.premise)}",
        "",
    ]
    chapter = None
    for turn in turns:
        if turn.kind == "skip" or not turn.text.strip():
            continue
        if turn.round != chapter:
            chapter = turn.round
            out += [f".{'PROLOGUE' if chapter == 0 else f'CHAPTER {chapter}'}", ""]
        paragraphs = [_plain(p) for p in re.split(r"\n\s*\n", turn.text) if p.strip()]
        if turn.kind == "narrator":
            for paragraph in paragraphs:
                out += [*(f"!{line}" for line in paragraph.split("\n")), ""]
        else:
            cue = _one_line(echo(turn.speaker) or names.get(turn.author_id or 0, "A player")).upper()  # NPC: its name
            out += [f"@{cue}", *"\n".join(paragraphs).split("\n"), ""]
    if story.ended_at is not None:
        out += ["> THE END <", ""]
    return "\n".join(out).rstrip() + "\n"


def _one_line(text: str) -> str:
    return _plain(" ".join(text.split()))


def _plain(text: str) -> str:
    """Text that Fountain shows as written: no notes, boneyard or blank-looking lines inside a block."""
    text = text.replace("[[", "[ [").replace("]]", "] ]").replace("/*", "/ *").replace("*/", "* /")
    return "\n".join(line.strip() or "." for line in text.strip().split("\n"))
