"""Every setting Taleweaver has, declared once. A new feature adds its settings here (and a field to
`ConfigSnapshot`); `/config`, `/help` and the README's table follow from these declarations."""

from __future__ import annotations

from bot.config.types import (
    BoolSetting,
    ChoiceSetting,
    ListSetting,
    NumberSetting,
    RoleSetting,
    Setting,
    TextSetting,
)

FEATURES = ("server", "poems", "stories", "lore", "npcs", "rewrite", "safety", "generation", "learning")
COOLDOWN_MAX = 3600

SETTINGS: tuple[Setting, ...] = (
    # --- where and who ------------------------------------------------------------------------------
    BoolSetting(
        "active", "server",
        "Whether Taleweaver answers here. Allowlist: turn it off for the server and on in chosen channels; "
        "denylist: leave it on and turn it off in chosen channels.",
        True, channel=True,
    ),
    RoleSetting(
        "moderator_role", "server",
        "A role that moderates Taleweaver besides Manage Server (only Manage Server may change it).",
        None, owner_only=True,
    ),
    TextSetting(
        "language", "server", "The language the storyteller writes in (none: the players' own).", "", max_length=40,
    ),
    TextSetting("style_note", "server", "A style note the narrator and poet always follow.", "", max_length=300),
    # --- features -----------------------------------------------------------------------------------
    BoolSetting("poems_enabled", "poems", "Whether /poem works here.", True, channel=True),
    NumberSetting(
        "poems_cooldown", "poems", "Seconds a member waits between poems (0: none).", 0,
        channel=True, low=0, high=COOLDOWN_MAX, unit="s",
    ),
    BoolSetting("stories_enabled", "stories", "Whether stories can be started and played here.", True, channel=True),
    RoleSetting(
        "story_starter_role", "stories", "Who may start a story: members with this role (none: everyone).", None,
        channel=True,
    ),
    NumberSetting(
        "stories_cooldown", "stories", "Seconds a member waits between story turns (0: none).", 0,
        channel=True, low=0, high=COOLDOWN_MAX, unit="s",
    ),
    NumberSetting(
        "turn_timeout", "stories", "Default time per turn for new round-robin stories, in seconds (0: none).", 0,
        channel=True, low=0, high=24 * 3600, unit="s",
    ),
    BoolSetting("lore_enabled", "lore", "Whether /lore works here.", True, channel=True),
    NumberSetting(
        "lore_cooldown", "lore", "Seconds a member waits between lore entries (0: none).", 0,
        channel=True, low=0, high=COOLDOWN_MAX, unit="s",
    ),
    BoolSetting("npcs_enabled", "npcs", "Whether NPCs may speak here.", True, channel=True),
    BoolSetting("rewrite_enabled", "rewrite", "Whether rewrites work here.", True, channel=True),
    # --- safety -------------------------------------------------------------------------------------
    ChoiceSetting(
        "content_rating", "safety",
        "`sfw`, or `mature` (honoured only in age-restricted channels; refused elsewhere).", "sfw",
        channel=True, options=("sfw", "mature"),
    ),
    ListSetting(
        "blocked_words", "safety", "Words and phrases refused in requests and kept out of what is written.", [],
    ),
    ChoiceSetting(
        "blocked_output_action", "safety",
        "What happens to written text with a blocked word: `redact` it, or `withhold` the whole text.", "redact",
        options=("redact", "withhold"),
    ),
    NumberSetting(
        "max_concurrent", "safety", "How many texts this server may have written at once.", 4, low=1, high=50,
    ),
    # --- generation ---------------------------------------------------------------------------------
    NumberSetting(
        "length", "generation", "Default length of a narrator's part, in tokens.", 280,
        channel=True, low=16, high=1024,
    ),
    NumberSetting(
        "max_length", "generation", "The most tokens any one text may have.", 512, channel=True, low=16, high=2048,
    ),
    NumberSetting(
        "temperature", "generation", "Sampling temperature (higher: more surprising).", 0.8,
        channel=True, low=0.0, high=2.0, integer=False,
    ),
    NumberSetting(
        "max_temperature", "generation", "The highest temperature any request may use.", 1.2,
        channel=True, low=0.0, high=2.0, integer=False,
    ),
    # --- learning -----------------------------------------------------------------------------------
    BoolSetting(
        "training_consent", "learning", "Whether this server's stories may be used to fine-tune the model.", False,
    ),
    TextSetting(
        "model_adapter", "learning",
        "The model adapter to write with (a name from the engine's /v1/models; none: the base model).", "",
        max_length=100,
    ),
)  # fmt: skip

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
COOLDOWNS: dict[str, str] = {"poems": "poems_cooldown", "stories": "stories_cooldown", "lore": "lore_cooldown"}
