"""What one character card can cost the bot: the largest card the limits allow, and hostile ones refused.

    python -m bench.cards [--repeat 3]

The largest allowed PNG card (4096×4096 pixels, with a card of about 700 KB of base64 JSON: a 49,000-
character description and a 450-entry book) is read with `card_png.read_any`, against the baseline of
Pillow alone decoding the same file (`Image.open(...).load()`): the ratio is what the card checks and
parsing add. Then the time to refuse a PNG that claims 100,000×100,000 pixels and JSON nested 200,000 deep
(both should be near zero: refused before any work). Best of `--repeat` runs each.

Prints one JSON object on stdout, then a one-line summary.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

from PIL import Image, PngImagePlugin

from bot.npcs import card_png, cards


def largest_card() -> bytes:
    entries = [
        {"keys": [f"key {i}"], "content": "c" * 1000, "extensions": {}, "enabled": True, "insertion_order": i}
        for i in range(450)
    ]
    card = {"spec": cards.V3, "spec_version": "3.0",
            "data": {"name": "Bench", "description": "x" * 49_000, "character_book": {"entries": entries}}}  # fmt: skip
    info = PngImagePlugin.PngInfo()
    info.add_text("ccv3", base64.b64encode(json.dumps(card).encode()).decode())
    out = io.BytesIO()
    Image.new("RGB", (4096, 4096), (10, 20, 30)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def pixel_bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def best(repeat: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            work()
        except cards.CardError:
            pass
        times.append(time.perf_counter() - start)
    return min(times)


def pillow_only(raw: bytes) -> None:
    with Image.open(io.BytesIO(raw)) as image:
        image.load()


def main() -> None:
    parser = argparse.ArgumentParser(description="What one character card can cost the bot.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raw, bomb = largest_card(), pixel_bomb()
    nested = b'{"spec":"chara_card_v2","data":{"name":"x","extensions":' + b"[" * 200_000 + b"]" * 200_000 + b"}}"
    baseline = best(args.repeat, lambda: pillow_only(raw))
    read = best(args.repeat, lambda: card_png.read_any(raw))
    result = {
        "largest_png_bytes": len(raw),
        "pillow_decode_s": round(baseline, 4),
        "read_card_s": round(read, 4),
        "ratio_read_to_pillow": round(read / baseline, 2),
        "refuse_pixel_bomb_s": round(best(args.repeat, lambda: card_png.read_any(bomb)), 5),
        "refuse_nesting_bomb_s": round(best(args.repeat, lambda: cards.parse(nested)), 5),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    print(json.dumps(result))
    pixel_ms, nesting_ms = result["refuse_pixel_bomb_s"] * 1000, result["refuse_nesting_bomb_s"] * 1000
    print(
        f"largest allowed card read in {read:.2f} s = {result['ratio_read_to_pillow']}× Pillow's decode alone; "
        f"bombs refused in {pixel_ms:.1f} ms (pixels) / {nesting_ms:.1f} ms (nesting)"
    )


if __name__ == "__main__":
    main()
