"""A loopback Discord (REST + gateway) for end-to-end tests with the real discord.py client.

See README.md in this directory for the API and the sharp edges it encodes.
"""

from . import permissions
from .errors import APIError, FakeUsageError
from .interactions import FakeInteraction
from .messaging import Upload
from .models import (
    AppCommand,
    Attachment,
    Channel,
    ChannelType,
    Guild,
    Member,
    Mentions,
    Message,
    MessageFlag,
    MessageVersion,
    Overwrite,
    Role,
    User,
    Webhook,
)
from .server import FakeDiscord
from .traffic import Delay, Fault, RecordedDispatch, RecordedRequest

__all__ = [
    "APIError",
    "AppCommand",
    "Attachment",
    "Channel",
    "ChannelType",
    "Delay",
    "FakeDiscord",
    "FakeInteraction",
    "FakeUsageError",
    "Fault",
    "Guild",
    "Member",
    "Mentions",
    "Message",
    "MessageFlag",
    "MessageVersion",
    "Overwrite",
    "RecordedDispatch",
    "RecordedRequest",
    "Role",
    "Upload",
    "User",
    "Webhook",
    "permissions",
]
