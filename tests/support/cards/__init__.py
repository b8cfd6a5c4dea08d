"""Small original character cards for the tests: a V2 JSON card with a book (wren_v2.json) and a V3 card
that the tests put into a PNG they build themselves, plus builders for hostile PNGs."""

from __future__ import annotations

import base64
import copy
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

HERE = Path(__file__).parent
WREN_V2 = HERE / "wren_v2.json"

V3_CARD: dict[str, Any] = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "x_top_unknown": {"kept": True},
    "data": {
        "name": "Brother Oakum",
        "description": "A ship's cook turned monk, who still measures prayers in cups of flour.",
        "personality": "Gentle, greedy for stories, terrified of the sea.",
        "scenario": "The monastery kitchen, an hour before dawn.",
        "first_mes": "Flour on your boots. You came through the mill, then.",
        "mes_example": "<START>\n{{char}}: Salt first. Always salt first.",
        "creator_notes": "Original V3 test character.",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": ["Sit. The bread is nearly done."],
        "tags": ["monk", "cook"],
        "creator": "taleweaver-tests",
        "character_version": "3.1",
        "extensions": {"x_v3_ext": {"list": ["a", "b"]}, "depth_prompt": {"prompt": "", "depth": 4}},
        "nickname": "Oak",
        "creator_notes_multilingual": {"fr": "Personnage de test original."},
        "source": ["https://example.invalid/oakum"],
        "group_only_greetings": ["Everyone, to the table."],
        "creation_date": 1733200000,
        "modification_date": 1733203600,
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        "character_book": {
            "entries": [
                {
                    "keys": ["mill"],
                    "content": "The mill turns only when the abbot is asleep.",
                    "extensions": {},
                    "enabled": True,
                    "insertion_order": 1,
                    "use_regex": False,
                }
            ],
            "extensions": {},
        },
    },
}


def wren_v2() -> dict[str, Any]:
    return json.loads(WREN_V2.read_text())


def v3_card() -> dict[str, Any]:
    return copy.deepcopy(V3_CARD)


def b64(obj: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def png(chunks: dict[str, str], size: tuple[int, int] = (48, 64), colour: tuple[int, int, int] = (90, 60, 30)) -> bytes:
    """A real PNG made by Pillow, with the given tEXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def v3_png() -> bytes:
    return png({"ccv3": b64(V3_CARD)})


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width: int, height: int, extra_chunks: bytes = b"", idat: bytes | None = None) -> bytes:
    """A PNG assembled by hand: what a hostile file can claim (huge dimensions, odd chunks)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    if idat is None:
        idat = zlib.compress(b"\x00" * (width + 1) * min(height, 4), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra_chunks + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
