"""`make play`, end to end: the playground as a subprocess, with the real engine it starts, the real
discord.py client on the fake Discord, and a real SQLite file in tmp_path. Plus its line parser."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.playground.commands import InputError, parse_slash
from fakediscord import Channel, FakeDiscord, FakeUsageError
from tests.support.engine_proc import EngineProcess

ROOT = Path(__file__).resolve().parents[2]
LIMIT_S = 420  # a safety net: about 30 s on an idle machine, but the CPU model may share it with other runs


def run_playground(
    tmp_path: Path, lines: list[str], *extra: str, engine_url: str | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a script; with `engine_url` the playground uses that engine instead of starting its own."""
    script = tmp_path / "script.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("ENGINE_URL", "DISCORD_TOKEN", "NO_COLOR")}
    if engine_url:
        env["ENGINE_URL"] = engine_url
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot.playground", "--db", str(tmp_path / "play.db"), "--script", str(script), *extra],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT_S,
    )  # fmt: skip
    return done, time.monotonic() - began


@pytest.mark.timeout(LIMIT_S + 30)
def test_a_poem_saved_and_listed_then_bad_input_and_quit(tmp_path: Path) -> None:
    done, took = run_playground(
        tmp_path,
        [
            "# a comment is shown, not run",
            "/poem topic:rain form:haiku",
            ":click Save",
            "/anthology list",
            "/nope",
            "/poem topic:" + "r" * 5000,
            ":click 8",
            ":quit",
            "/poem topic:never run",
        ],
        "--settle",
        "1",
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out
    assert "engine    ready" in out  # the engine's load progress, concisely
    assert "Taleweaver: **Haiku** · *rain*" in out  # the poem's header, streamed
    assert "[1] 🔄 Regenerate  [2] ✨ Another take  [3] 📚 Save to anthology  [4] " in out and "🗑️ Delete" in out
    assert "📚 In the anthology (disabled)" in out  # the Save click updated the buttons
    assert "(only you can see this): 📚 Saved to the anthology as poem #1." in out
    assert "│ 📚 Anthology" in out and "`#1` **Haiku** · rain — @you" in out
    assert "⚠ no command 'nope' registered" in out and "'poem'" in out  # what exists is listed
    assert "(5,012 characters)" in out  # the long line is echoed shortened
    assert "The topic is 5,000 characters long; the limit is 200." in out
    assert (
        "⚠ The latest message has buttons 1 to 7." in out
    )  # Regenerate, Another take, Save, Show the check, Delete, 👍, 👎
    assert "never run" not in out  # nothing after :quit
    assert "Stopping the bot and the engine" in out and out.rstrip().endswith("Bye.")
    assert (tmp_path / "play.db").is_file()
    assert took < LIMIT_S


@pytest.mark.timeout(LIMIT_S + 30)
def test_roles_let_moderator_role_features_be_tried_and_hidden_commands_are_explained(
    tmp_path: Path, engine: EngineProcess
) -> None:
    done, _ = run_playground(
        tmp_path,
        [
            ":as alice",
            "/settings audit-log",
            ":role Keepers",
            ":role Keepers",
            ":users",
            ":as you",
            "/settings moderator-role role:@Keepers",
            "/story start title:Roles genre:fable premise:A crown is lost.",
            ":as alice",
            "/story end",
            ":role -Keepers",
            ":role",
            ":role everyone",
        ],
        "--settle",
        "0.5",
        engine_url=engine.url,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out and "default_member_permissions" not in out and "enforce_command" not in out
    assert (
        "⚠ /settings audit-log is for moderators: Discord shows it only to members with the Manage Server "
        "permission, which alice does not have." in out
    )
    assert "(the role @Keepers is created in the server Playground)" in out
    assert "alice now has the role @Keepers." in out and "alice already has the role @Keepers." in out
    assert "alice  (@Keepers)" in out  # :users shows roles
    assert "Members with @Keepers now moderate Taleweaver here." in out
    assert "🏁 @alice ended the story." in out  # a moderator by role ends someone else's story
    assert "alice no longer has the role @Keepers." in out and "@Keepers: nobody" in out
    assert "⚠ Everybody has @everyone already" in out


def test_help_explains_commands_and_verbs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.playground", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    for words in (
        "/poem topic:autumn rain form:haiku",
        ":as NAME",
        ":role NAME",
        ":click",
        ":modal",
        "--script",
        "--db",
    ):
        assert words in done.stdout


# --- the line parser, against the options the bot registers ------------------------------------------
STORY = {
    "name": "story",
    "description": "Tell a story together.",
    "options": [
        {
            "type": 1, "name": "start", "description": "Open a story.",
            "options": [
                {"type": 3, "name": "title", "description": "t", "required": True},
                {"type": 3, "name": "premise", "description": "p", "required": True},
                {"type": 4, "name": "rounds", "description": "r", "min_value": 0, "max_value": 100},
                {"type": 4, "name": "choices", "description": "c", "choices": [
                    {"name": "Off", "value": 0}, {"name": "Players vote between 2 continuations", "value": 2},
                ]},
                {"type": 3, "name": "mode", "description": "m", "choices": [
                    {"name": "Round-robin: players take turns", "value": "round-robin"},
                    {"name": "Free: anyone adds", "value": "free"},
                ]},
            ],
        },
        {"type": 1, "name": "add", "description": "Add a turn.", "options": [
            {"type": 3, "name": "text", "description": "x", "required": True},
        ]},
    ],
}  # fmt: skip
POEM = {
    "name": "poem",
    "description": "Write a poem.",
    "options": [
        {"type": 3, "name": "topic", "description": "t", "required": True},
        {"type": 3, "name": "form", "description": "f", "choices": [
            {"name": "Free Verse", "value": "free verse"}, {"name": "Haiku", "value": "haiku"},
        ]},
    ],
}  # fmt: skip


@pytest.fixture
def commands_world() -> tuple[FakeDiscord, Channel]:
    fake = FakeDiscord()
    guild = fake.add_guild("Playground")
    fake.commands.bulk_overwrite(None, [STORY, POEM])
    return fake, fake.add_channel(guild, "tavern")


def test_values_run_until_the_next_option_and_take_the_registered_types(
    commands_world: tuple[FakeDiscord, Channel],
) -> None:
    fake, channel = commands_world
    line = "/story start title:The Lost Key premise:A key: found in the snow rounds:1 choices:2 mode:free"
    command = parse_slash(line, fake, channel)
    assert command.path == "story start"
    assert command.options == {
        "title": "The Lost Key", "premise": "A key: found in the snow", "rounds": 1, "choices": 2, "mode": "free",
    }  # fmt: skip
    assert parse_slash("/poem topic:autumn rain form:Haiku", fake, channel).options == {
        "topic": "autumn rain", "form": "haiku",
    }  # fmt: skip
    assert parse_slash("/poem topic:x form:free verse", fake, channel).options["form"] == "free verse"
    assert parse_slash("/story add text:I say: see http://x.y", fake, channel).options == {
        "text": "I say: see http://x.y"
    }


@pytest.mark.parametrize(
    ("line", "error", "says"),
    [
        ("/nope", FakeUsageError, "registered: ['poem', 'story']"),
        ("/story", InputError, "needs a subcommand: start, add"),
        ("/story fly", InputError, "has no subcommand 'fly'"),
        ("/story add I pick it up", InputError, "Write options as name:value"),
        ("/story start title:x premise:y rounds:many", InputError, "takes a whole number, not 'many'"),
        ("/poem topic:x form:ode", InputError, "must be one of: free verse; haiku. Got 'ode'"),
        ("/poem topic:x topic:y", InputError, "given twice"),
    ],
)
def test_bad_lines_say_what_is_wrong(
    commands_world: tuple[FakeDiscord, Channel], line: str, error: type[Exception], says: str
) -> None:
    fake, channel = commands_world
    with pytest.raises(error) as caught:
        parse_slash(line, fake, channel)
    assert says in str(caught.value)
