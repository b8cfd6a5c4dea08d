"""The /help text: every command with an example, grouped by feature. Other cogs add their sections."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HelpSection:
    title: str
    intro: str
    commands: tuple[tuple[str, str, str], ...]  # (command, what it does, example)


SECTIONS: list[HelpSection] = [
    HelpSection(
        "✒️ Poems",
        "Poems on demand, streamed as they are written.",
        (
            ("/poem", "Write a poem; then Regenerate, Another take, or Save it", "/poem topic:autumn rain form:Haiku"),
            ("/anthology list", "The poems this server saved", "/anthology list page:2"),
            ("/anthology show", "Show a saved poem to the channel", "/anthology show id:12"),
            ("/anthology remove", "Take a poem out (moderators, or who saved it)", "/anthology remove id:12"),
        ),
    ),
    HelpSection(
        "🛠️ Server",
        "What the storyteller runs on, and what moderators can change.",
        (
            ("/status", "Model, device, queue and uptime", "/status"),
            (
                "/settings moderator-role",
                "Who counts as a moderator besides Manage Server",
                "/settings moderator-role role:@Keepers",
            ),
            ("/settings audit-log", "Recent moderator changes", "/settings audit-log"),
            ("/help", "This page", "/help"),
        ),
    ),
]


def render_section(section: HelpSection) -> str:
    lines = [f"*{section.intro}*"]
    for command, what, example in section.commands:
        lines.append(f"**{command}** — {what}\n↳ `{example}`")
    return "\n".join(lines)
