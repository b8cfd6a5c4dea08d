"""What the settings are at one place: the typed snapshot features read, and where each value came from."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT, SERVER, CHANNEL, PARENT = "default", "server", "channel", "parent"


@dataclass(frozen=True)
class Place:
    """Where a setting is read: a server, optionally a channel, and a thread's parent channel."""

    guild_id: int
    channel_id: int | None = None
    parent_id: int | None = None  # set when channel_id is a thread
    nsfw: bool = False  # the channel (for a thread: its parent) is age-restricted


@dataclass(frozen=True)
class ConfigSnapshot:
    """Every setting's effective value at a place (one field per declaration in bot/config/catalog.py)."""

    active: bool
    moderator_role: int | None
    language: str
    style_note: str
    poems_enabled: bool
    poems_cooldown: int
    stories_enabled: bool
    story_starter_role: int | None
    stories_cooldown: int
    turn_timeout: int
    lore_enabled: bool
    lore_cooldown: int
    npcs_enabled: bool
    rewrite_enabled: bool
    content_rating: str
    blocked_words: list[str]
    blocked_output_action: str
    max_concurrent: int
    length: int
    max_length: int
    temperature: float
    max_temperature: float
    training_consent: bool
    model_adapter: str
    origins: dict[str, str] = field(default_factory=dict)  # key -> default/server/channel/parent

    def enabled(self, feature: str) -> bool:
        return bool(getattr(self, f"{feature}_enabled", True))

    def cooldown(self, feature: str) -> int:
        return int(getattr(self, f"{feature}_cooldown", 0))

    def tokens(self, builtin: int, *, use_default: bool = True) -> int:
        """A generation length: the server's `length` if its moderators set one (and `use_default`), else the
        feature's own; never above `max_length`."""
        set_here = self.origins.get("length", DEFAULT) != DEFAULT
        wanted = self.length if use_default and set_here else builtin
        return max(1, min(wanted, self.max_length))

    def heat(self, builtin: float) -> float:
        """A temperature: the server's if its moderators set one, else the feature's own; never above the maximum."""
        wanted = self.temperature if self.origins.get("temperature", DEFAULT) != DEFAULT else builtin
        return min(wanted, self.max_temperature)
