"""cogs.admin.audit: audit entries read as names and mentions, never as bare ids."""

from __future__ import annotations

import re

from cogs.admin.audit import LOG_LIMIT, render_entry, render_log
from storage.guilds import AuditEntry

GUILD, MOD, ROLE, GONE, CHANNEL, STARTER = 1, 1191168914231324379, 555, 556, 777, 888
ROLES = {ROLE: "Keepers", GUILD: "@everyone"}


def entry(action: str, **detail: object) -> AuditEntry:
    return AuditEntry(1, GUILD, MOD, action, detail, 1_700_000_000.0)


def test_role_settings_show_role_names() -> None:
    line = render_entry(entry("settings.moderator_role", before=None, after=ROLE), ROLES.get)
    assert line == f"<t:1700000000:R> <@{MOD}> **settings.moderator_role** before: none · after: **Keepers**"
    assert "a deleted role" in render_entry(entry("settings.moderator_role", before=GONE, after=None), ROLES.get)
    assert "**@\u200beveryone**" in render_entry(entry("settings.moderator_role", before=GUILD), ROLES.get)


def test_story_details_show_mentions_numbers_and_quoted_text() -> None:
    line = render_entry(
        entry("story.unpin", channel=CHANNEL, starter=STARTER, title="**Salt** @here", pin=3, fact="x" * 500),
        ROLES.get,
    )
    assert f"channel: <#{CHANNEL}> · starter: <@{STARTER}> · title: “\\*\\*Salt\\*\\* @\u200bhere” · pin: #3" in line
    assert len(line) <= 400 and "…" in line
    assert not re.search(r"(?<![<@#&!\d])\d{15,}", line)


def test_the_log_keeps_whole_lines_within_an_embed() -> None:
    entries = [entry("lore.add", channel=CHANNEL, keys=["a", "b"], content="y" * 300) for _ in range(40)]
    text = render_log(entries, ROLES.get)
    assert len(text) <= LOG_LIMIT
    assert all(line.startswith("<t:") and line.endswith("”") for line in text.split("\n"))
