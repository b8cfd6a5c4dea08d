"""bot.evaluate.prompts: the default prompt set, its checks, and story prompts built by the bot's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.craft import FORMS
from bot.evaluate.prompts import PoemItem, PromptSetError, StoryItem, TextItem, load, parse, select
from bot.stories.prompts import RULES


def test_the_default_set_covers_every_form_both_languages_and_every_narration() -> None:
    items = load()
    poems = [i for i in items if isinstance(i, PoemItem)]
    stories = [i for i in items if isinstance(i, StoryItem)]
    assert {p.form.key for p in poems} == set(FORMS)
    assert {p.form.language for p in poems} == {"en", "zh"}
    assert {s.kind for s in stories} == {"opening", "continuation", "ending"}
    assert any(isinstance(i, TextItem) for i in items)
    assert len({i.id for i in items}) == len(items)


def test_story_prompts_are_the_ones_a_story_sends() -> None:
    story = next(i for i in load() if isinstance(i, StoryItem) and i.id == "salt-road-2")
    system, user = story.messages()
    assert system["content"].startswith(RULES)
    assert "The players' characters (never write for them): Mira, Tobin, Ash." in system["content"]
    assert "blue lantern shows the way" in system["content"]  # the triggered lore entry
    assert "[Mira (player)]: I climb onto the lead wagon" in user["content"]
    assert "This round, the players wrote:" in user["content"]
    assert story.stops() == ("\nMira:", "\nTobin:", "\nAsh:", "\n[")
    assert story.earlier_narration[0].startswith("The salt flats glitter")
    opening = next(i for i in load() if isinstance(i, StoryItem) and i.kind == "opening")
    assert "Write the opening scene" in opening.messages()[1]["content"]


def test_select_keeps_the_first_of_each_group_and_every_text() -> None:
    items = load()
    chosen = select(items, per_group=1)
    groups = [i.group for i in chosen if not isinstance(i, TextItem)]
    assert len(groups) == len(set(groups)) == len(FORMS) + 3
    assert [i.id for i in chosen if isinstance(i, TextItem)] == [i.id for i in items if isinstance(i, TextItem)]
    assert len(select(items, limit=3)) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "each line must be a JSON object"),
        ({"kind": "song"}, "`kind` must be poem, story or text"),
        ({"kind": "poem", "form": "rap battle", "topic": "x"}, "There is no form called 'rap battle'"),
        ({"kind": "poem", "form": "haiku", "topic": "x", "language": "Klingon"}, "unknown language"),
        ({"kind": "poem", "form": "haiku", "topic": "  "}, "`topic` is required"),
        ({"kind": "poem", "form": "haiku", "topic": "x", "references": "one"}, "must be a list of strings"),
        ({"kind": "story", "title": "t", "premise": "p", "players": []}, "at least one player"),
        (
            {"kind": "story", "title": "t", "premise": "p", "players": ["A"], "turns": [{"author": "B", "text": "x"}]},
            "turn 1 is by 'B', who is not among the players",
        ),
        ({"kind": "text", "text": 3}, "`text` must be a string"),
    ],
)
def test_bad_items_say_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(data)


def test_a_bad_line_is_named_by_file_and_number(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    good = json.dumps({"kind": "text", "id": "a", "text": "hello"})
    path.write_text(f"{good}\n\n{{not json\n", encoding="utf-8")
    with pytest.raises(PromptSetError, match=r"set\.jsonl:3: "):
        load(path)
    path.write_text(f"{good}\n{good}\n", encoding="utf-8")
    with pytest.raises(PromptSetError, match=r"set\.jsonl:2: the id 'a' is used twice"):
        load(path)
    path.write_text("\n// a comment\n", encoding="utf-8")
    with pytest.raises(PromptSetError, match="no prompts in it"):
        load(path)
