"""The /help text: every command with an example, grouped by feature. Other cogs add their sections."""

from __future__ import annotations

from dataclasses import dataclass

from bot.stories.rules import TURN_LIMIT


@dataclass(frozen=True)
class HelpSection:
    title: str
    intro: str
    commands: tuple[tuple[str, str, str], ...]  # (command, what it does, example)


SECTIONS: list[HelpSection] = [
    HelpSection(
        "✒️ Poems",
        "Poems on demand. A form (haiku, sonnet, 绝句…) is drafted several times at once and the draft that keeps "
        "it best is shown, with the checker's verdict underneath; **Show the check** gives the line-by-line table.",
        (
            (
                "/poem",
                "Write a poem; then Regenerate, Another take, or Save it; 👍 / 👎 rate it (and every narration)",
                "/poem topic:autumn rain form:haiku",
            ),
            (
                "/poem (Chinese)",
                "Forms follow the language: 五言绝句, 七言绝句, 藏头诗",
                "/poem topic:思乡 language:中文 form:wuyan jueju",
            ),
            (
                "/poem (acrostic)",
                "The lines' first letters spell your word",
                "/poem topic:the sea form:acrostic word:WAVE",
            ),
            (
                "/rewrite",
                "A passage in another voice: noir, fairy tale, Shakespearean, epic, for children, haiku, screenplay, "
                "or your own words. On any message: right-click → Apps → Rewrite in a style…",
                "/rewrite text:The door creaked open. style:noir",
            ),
            ("/anthology list", "The poems this server saved", "/anthology list page:2"),
            ("/anthology show", "Show a saved poem to the channel", "/anthology show id:12"),
            ("/anthology remove", "Take a poem out (moderators, or who saved it)", "/anthology remove id:12"),
        ),
    ),
    HelpSection(
        "📚 Stories: playing",
        "Tell a story together: players take turns, an AI narrator weaves them in. One story per channel or thread.",
        (
            (
                "/story start",
                "Open a lobby; players press Join, the starter presses Start",
                "/story start title:The Lost Key genre:mystery premise:A key is found in the snow turn_timeout:10m",
            ),
            (
                "/story join",
                "Join (optionally as a named character); again, to rename it",
                "/story join character:Mira",
            ),
            (
                "/story add",
                f"Add your turn (up to {TURN_LIMIT:,} characters)",
                "/story add text:I hold the key up to the lantern.",
            ),
            ("/story write", f"Write a long turn in a text box (up to {TURN_LIMIT:,} characters)", "/story write"),
            ("/story edit", "Change your turn before the narrator weaves it in", "/story edit text:I pocket the key."),
            ("/story status", "Players, whose turn it is, the round, the word count", "/story status"),
            ("/story leave", "Leave the story", "/story leave"),
        ),
    ),
    HelpSection(
        "🪶 Stories: the narrator and the table",
        "Steer the narrator, and run the table (undo, pause, resume and end: the starter or a moderator).",
        (
            ("/story retry", "A new version of the narrator's last part", "/story retry"),
            ("/story narrate", "Free mode: the narrator continues now", "/story narrate"),
            ("/story pin", "A fact the narrator must never forget", "/story pin fact:Mira cannot swim"),
            ("/story note", "An author's note that steers the narrator", "/story note text:Keep it eerie"),
            ("/story recap", "“Previously on…”", "/story recap"),
            ("/story undo", "Remove the last turn", "/story undo"),
            ("/story pause · resume · end", "Stop the clock, continue, or finish", "/story end"),
            ("/story export", "The whole story as a file", "/story export format:Markdown"),
            ("/story purge", "Moderators: delete a story's stored text for good (asks first)", "/story purge"),
            (
                "/lore add",
                "World lore the narrator recalls when a key comes up",
                "/lore add keys:Ember, dragon content:Ember is an old red dragon who hoards songs.",
            ),
            ("/lore list · remove", "See or remove this channel's lore", "/lore remove id:3"),
        ),
    ),
    HelpSection(
        "🎭 NPCs",
        "Characters that speak in the channel under their own name and avatar. Anyone creates; the creator "
        "or a moderator edits. Reply to an NPC or start with its name to talk (if the server enabled it).",
        (
            ("/npc create", "Create an NPC; a form asks for persona, scenario, greeting", "/npc create name:Mira"),
            ("/npc edit · delete", "Change or remove an NPC you made", "/npc edit npc:Mira new_name:Old Mira"),
            ("/npc list · show", "The server's NPCs, or one NPC's card", "/npc show npc:Mira"),
            ("/npc say", "Talk to an NPC; it answers here", "/npc say npc:Mira text:What do you see?"),
            (
                "/npc import",
                "A SillyTavern character card (JSON or PNG) becomes an NPC, its book its lore",
                "/npc import card:mira.png",
            ),
            ("/npc export", "An NPC as a character card file (PNG or JSON)", "/npc export npc:Mira format:png"),
            ("/scene add · remove · list", "Which NPCs are present in this channel", "/scene add npc:Mira"),
            ("/scene pin", "A fact an NPC never forgets here", "/scene pin npc:Mira fact:Alice owes her a coin"),
            ("/scene act", "The NPCs present talk among themselves", "/scene act turns:3"),
            (
                "In a story",
                "NPCs in the story channel's scene answer a turn that names them, before the narrator; "
                "`as_characters:true` posts each turn under the player's character name",
                "/story start title:Salt genre:fantasy premise:A marsh as_characters:true",
            ),
        ),
    ),
    HelpSection(
        "🛠️ Server",
        "What the storyteller runs on, and what moderators can change.",
        (
            ("/status", "Model, device, queue, uptime (and shard)", "/status"),
            (
                "/settings moderator-role",
                "Who counts as a moderator besides Manage Server",
                "/settings moderator-role role:@Keepers",
            ),
            ("/settings audit-log", "Recent moderator changes", "/settings audit-log"),
            ("/config show", "Moderators: every setting and where it comes from", "/config show channel:#tavern"),
            (
                "/config set",
                "Moderators: change a setting, server-wide or per channel",
                "/config set key:poems_cooldown value:30 channel:#tavern",
            ),
            ("/config reset", "Moderators: back to the parent, server or default value", "/config reset key:active"),
            ("/config history", "Moderators: every settings change", "/config history page:2"),
            (
                "/privacy forget-me",
                "Remove your poems, turns and votes from every server (asks first)",
                "/privacy forget-me",
            ),
            ("/help", "This page", "/help"),
        ),
    ),
]


def render_section(section: HelpSection) -> str:
    lines = [f"*{section.intro}*"]
    for command, what, example in section.commands:
        lines.append(f"**{command}** — {what}\n↳ `{example}`")
    return "\n".join(lines)
