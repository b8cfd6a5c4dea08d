"""PNG character cards: the card's JSON, base64-encoded, in a `chara` (V2) or `ccv3` (V3) tEXt chunk.

Reading prefers `ccv3` when both are present; writing puts both in, so old and new readers find theirs.
Pillow does the PNG work. Before Pillow decodes anything, the chunk headers are walked by hand (the file
is already in memory and small) so a hostile file is refused by its declared size: too many pixels
(a decompression bomb), oversized or too many text chunks, a truncated file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from bot.npcs import cards
from bot.npcs.cards import Card, CardError

MAX_PNG_BYTES = 5_000_000
MAX_PIXELS = 4096 * 4096  # width × height: a 5 MB PNG of one colour can claim billions
MAX_SIDE = 8192
MAX_FRAMES = 100  # an animated PNG (APNG) card
MAX_ANIMATION_PIXELS = 2 * MAX_PIXELS  # all frames together
MAX_TEXT_CHUNKS = 64
MAX_TEXT_CHUNK_BYTES = cards.MAX_JSON_BYTES * 4 // 3 + 1024  # base64 of the largest JSON we accept
PLACEHOLDER_SIZE = 256
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}


@dataclass(frozen=True)
class PngCard:
    card: Card
    image: bytes  # the PNG as uploaded: fit to be the character's avatar


def read_any(raw: bytes) -> tuple[Card, bytes | None]:
    """A card from an uploaded file, JSON or PNG, told apart by content (never by the file's name).

    Returns the card and, for a PNG card, the image to use as the avatar.
    """
    if len(raw) > MAX_PNG_BYTES:
        raise CardError(f"The file is {len(raw):,} bytes; a card may be at most {MAX_PNG_BYTES:,}.")
    if is_png(raw):
        found = read(raw)
        return found.card, found.image
    if raw.lstrip()[:1] not in (b"{", b"\xef"):
        raise CardError("This file is neither a JSON nor a PNG character card.")
    return cards.parse(raw), None


def is_png(raw: bytes) -> bool:
    return raw.startswith(SIGNATURE)


def read(raw: bytes) -> PngCard:
    """The card inside a PNG. Raises CardError for anything that is not a safe, readable PNG card."""
    check_png(raw)
    texts = _texts(raw)
    chunk = texts.get("ccv3") or texts.get("chara")
    if chunk is None:
        raise CardError("This PNG has no character card in it (no `chara` or `ccv3` text chunk).")
    try:
        payload = base64.b64decode(chunk.strip(), validate=False)
    except (binascii.Error, ValueError):
        raise CardError("The card inside this PNG is not valid base64.") from None
    return PngCard(cards.parse(payload), raw)


def check_png(raw: bytes) -> tuple[int, int]:
    """Walk the chunk headers: refuse a file too big, truncated, too many pixels or too much text.

    Returns (width, height).
    """
    if len(raw) > MAX_PNG_BYTES:
        raise CardError(f"The PNG is {len(raw):,} bytes; the limit is {MAX_PNG_BYTES:,}.")
    if not is_png(raw):
        raise CardError("This file is not a PNG.")
    at, size, texts, declared, controls = len(SIGNATURE), None, 0, 1, 0
    while at < len(raw):
        if at + 8 > len(raw):
            raise CardError("The PNG is cut short (a chunk header is incomplete).")
        length, kind = struct.unpack(">I4s", raw[at : at + 8])
        if at + 12 + length > len(raw):
            raise CardError("The PNG is cut short (a chunk is longer than the file).")
        if kind == b"IHDR" and length >= 8:
            size = struct.unpack(">II", raw[at + 8 : at + 16])
        elif kind in _TEXT_CHUNKS:
            texts += 1
            if length > MAX_TEXT_CHUNK_BYTES or texts > MAX_TEXT_CHUNKS:
                raise CardError("The PNG carries more text than a character card needs; it is refused.")
        elif kind == b"acTL" and length >= 4:  # an animated PNG: reading its text decodes every frame
            declared = struct.unpack(">I", raw[at + 8 : at + 12])[0]
        elif kind == b"fcTL":
            controls += 1
        if kind == b"IEND":
            break
        at += 12 + length
    if size is None:
        raise CardError("The PNG has no image header (IHDR).")
    width, height = size
    if not width or not height or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise CardError(
            f"The PNG claims {width:,}×{height:,} pixels; the limit is {MAX_PIXELS:,} pixels "
            f"(at most {MAX_SIDE:,} a side)."
        )
    frames = max(declared, controls)
    if frames > MAX_FRAMES or frames * width * height > MAX_ANIMATION_PIXELS:
        raise CardError(f"The PNG is an animation of {frames:,} frames; a card may have at most {MAX_FRAMES}.")
    return width, height


def _texts(raw: bytes) -> dict[str, str]:
    """The text chunks by lower-cased keyword, read by Pillow (which also inflates zTXt/iTXt, bounded)."""
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:
            if not isinstance(image, PngImagePlugin.PngImageFile):
                raise CardError("This file is not a PNG.")
            # `.text` loads the image: chunks after the pixel data (where SillyTavern writes them) are read too.
            # The pixel count was bounded by check_png, so loading is bounded as well.
            found = dict(image.text)
    except Image.DecompressionBombError:
        raise CardError("The PNG is a decompression bomb (far more pixels than its size suggests).") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error) as error:
        # Pillow raises ValueError for text that inflates past its limit, SyntaxError for a broken chunk.
        raise CardError(f"The PNG could not be read ({str(error)[:100]}).") from None
    return {key.lower(): str(value) for key, value in found.items()}


def write(card: Card, avatar: bytes | None = None) -> bytes:
    """A PNG card: the avatar (or a generated placeholder) carrying the card as both `chara` (V2) and `ccv3` (V3)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("chara", base64.b64encode(cards.dump_json(card, cards.V2)).decode("ascii"))
    info.add_text("ccv3", base64.b64encode(cards.dump_json(card, cards.V3)).decode("ascii"))
    image = avatar_image(avatar) if avatar else placeholder(card.name)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)  # a fresh PngInfo: the avatar's own old card chunks are dropped
    return out.getvalue()


AVATAR_FORMATS = ["PNG", "JPEG", "WEBP", "GIF"]


def avatar_image(raw: bytes) -> Image.Image:
    """An uploaded or downloaded avatar (PNG, JPEG, WebP or GIF), refused by its declared size before any
    pixel is decoded: a bomb never gets to allocate."""
    if len(raw) > MAX_PNG_BYTES:
        raise CardError(f"The avatar image is {len(raw):,} bytes; the limit is {MAX_PNG_BYTES:,}.")
    if is_png(raw):
        check_png(raw)
    try:
        with Image.open(io.BytesIO(raw), formats=AVATAR_FORMATS) as image:
            width, height = image.size  # from the header; nothing decoded yet
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise CardError(f"The avatar image claims {width:,}×{height:,} pixels; the limit is {MAX_PIXELS:,}.")
            image.load()
            return image.convert("RGBA") if image.mode not in ("RGB", "RGBA", "L", "LA") else image.copy()
    except Image.DecompressionBombError:
        raise CardError("The avatar image is a decompression bomb.") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error) as error:
        raise CardError(f"The avatar image could not be read ({str(error)[:100]}).") from None


def placeholder(name: str) -> Image.Image:
    """A small square in a colour derived from the name, with its initial: stable for the same name."""
    digest = hashlib.sha256(name.encode()).digest()
    colour = (64 + digest[0] % 128, 64 + digest[1] % 128, 64 + digest[2] % 128)
    image = Image.new("RGB", (PLACEHOLDER_SIZE, PLACEHOLDER_SIZE), colour)
    initial = next((c for c in name if c.isalnum()), "?").upper()
    font = ImageFont.load_default(size=PLACEHOLDER_SIZE // 2)
    ImageDraw.Draw(image).text(
        (PLACEHOLDER_SIZE / 2, PLACEHOLDER_SIZE / 2), initial, fill=(255, 255, 255), font=font, anchor="mm"
    )
    return image
