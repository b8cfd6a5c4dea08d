"""How /config reads: the settings grouped by feature, each with where its value comes from."""

from __future__ import annotations

from typing import Any

import discord

from bot.config import FEATURES, SETTINGS, Change, ConfigSnapshot, Setting
from bot.text import quote, truncate

ORIGIN = {"default": "default", "server": "server", "channel": "this channel", "parent": "parent channel"}
FIELD_LIMIT = 1024
TITLES = {
    "server": "🛠️ Server", "poems": "✒️ Poems", "stories": "📚 Stories", "lore": "📖 Lore", "npcs": "🎭 NPCs",
    "rewrite": "✏️ Rewrite", "safety": "🛡️ Safety", "generation": "⚙️ Generation", "learning": "🎓 Learning",
}  # fmt: skip


def shown(setting: Setting, value: Any) -> str:
    """A value as a moderator reads it: roles as mentions (never pinged), text quoted and cut short."""
    if setting.kind in ("text",) and value:
        return f"“{quote(str(value), 80)}”"
    return setting.show(value)


def config_embed(snapshot: ConfigSnapshot, where: str, nsfw: bool) -> discord.Embed:
    embed = discord.Embed(title=f"⚙️ Taleweaver settings · {truncate(where, 200)}", colour=discord.Colour.blurple())
    for feature in FEATURES:
        lines = []
        for setting in (s for s in SETTINGS if s.feature == feature):
            value = getattr(snapshot, setting.key)
            origin = ORIGIN[snapshot.origins.get(setting.key, "default")]
            line = f"`{setting.key}` = {shown(setting, value)} · *{origin}*"
            if setting.key == "content_rating" and not nsfw:
                line += " (not age-restricted: always sfw)"
            lines.append(line)
        if lines:
            embed.add_field(
                name=TITLES.get(feature, feature), value=truncate("\n".join(lines), FIELD_LIMIT), inline=False
            )
    embed.set_footer(text="/config set key value [channel] · /config reset key [channel] · /config history")
    return embed


def change_text(change: Change, where: str) -> str:
    setting = change.setting
    if change.after is None:
        text = (
            f"↩️ `{setting.key}` reset {where}: the {'parent, server or ' if change.channel_id else ''}default applies."
        )
    else:
        text = f"✅ `{setting.key}` is now {shown(setting, change.after)} {where}"
        if change.before is not None:
            text += f" (was {shown(setting, change.before)})"
        text += "."
    return f"{text}\n{change.note}" if change.note else text
