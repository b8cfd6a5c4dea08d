"""The Discord side of `/npc import` and `/npc export`: reading the uploaded card, fetching an avatar for a
PNG export, and the words shown. The work is in bot/npcs/card_service.py."""

from __future__ import annotations

import io

import aiohttp
import discord

from bot.npcs import card_png
from bot.npcs.card_service import Exported, Imported
from bot.npcs.cards import CardError
from bot.text import quote

MAX_UPLOAD = card_png.MAX_PNG_BYTES
AVATAR_TIMEOUT_S = 15


async def read_upload(attachment: discord.Attachment) -> bytes:
    """The uploaded card's bytes, refused by its announced size before anything is downloaded."""
    if attachment.size > MAX_UPLOAD:
        raise CardError(f"The file is {attachment.size:,} bytes; a card may be at most {MAX_UPLOAD:,}.")
    try:
        raw = await attachment.read()
    except discord.HTTPException:
        raise CardError("Discord would not hand over the uploaded file; please upload it again.") from None
    if len(raw) > MAX_UPLOAD:  # the announced size was wrong
        raise CardError(f"The file is {len(raw):,} bytes; a card may be at most {MAX_UPLOAD:,}.")
    return raw


class AvatarFetcher:
    """Downloads an NPC's avatar for a PNG export: one session for the cog's life, bounded in time and size.

    Whatever comes back only ever becomes pixels that Pillow re-encodes (non-images are refused), and any
    failure means the export uses a placeholder image instead.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str | None) -> bytes | None:
        if not url or not url.startswith(("https://", "http://")):
            return None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=AVATAR_TIMEOUT_S))
        try:
            async with self._session.get(url) as response:
                if response.status != 200 or (response.content_length or 0) > MAX_UPLOAD:
                    return None
                data = await response.content.read(MAX_UPLOAD + 1)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        return data if len(data) <= MAX_UPLOAD else None


def imported_message(result: Imported) -> str:
    name = quote(result.npc.name, 80)
    lore = ""
    if result.book_entries:
        lore = f" {result.lore_entries} of the {result.book_entries} character-book entries became their lore."
    avatar = " The card's image is their avatar." if result.npc.avatar_url else ""
    return f"🎴 **{name}** was imported.{lore}{avatar} `/scene add` brings them into a channel."


def export_file(exported: Exported) -> discord.File:
    return discord.File(io.BytesIO(exported.data), filename=exported.filename)
