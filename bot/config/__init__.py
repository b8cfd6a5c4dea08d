"""The configuration registry: typed settings per server, with channel (and thread) overrides.

snapshot = await bot.config.resolve(guild_id, channel_id, parent_id=thread_parent, nsfw=False)
consent = await bot.config.get(guild_id, None, "training_consent")
"""

from bot.config.catalog import BY_KEY, FEATURES, SETTINGS
from bot.config.service import Change, ConfigService, HistoryPage, defaults
from bot.config.snapshot import ConfigSnapshot, Place
from bot.config.types import InvalidValue, Setting

__all__ = [
    "BY_KEY",
    "FEATURES",
    "SETTINGS",
    "Change",
    "ConfigService",
    "ConfigSnapshot",
    "HistoryPage",
    "InvalidValue",
    "Place",
    "Setting",
    "defaults",
]
