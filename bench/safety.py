"""The safety gate's blocked-word matcher: its cost per text, against one regular expression per entry.

    python -m bench.safety [--terms 200] [--chars 2000] [--repeat 50]

A server's list of random words is matched against a text of about the length of a Discord message (the
gate also previews streamed text about once a second). Baseline, in the same run: the same folding, but
one compiled pattern per entry scanned in turn (the first implementation). Prints one JSON object on
stdout, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import timeit

from bot.safety.matcher import Matcher, fold


def per_entry(terms: list[str]) -> list[re.Pattern[str]]:
    folded = [" ".join(fold(t)[0].split()) for t in terms]
    bodies = [r"\s+".join(map(re.escape, f.split(" "))) for f in folded if f]
    return [re.compile(r"(?<!\w)" + body + r"(?!\w)") for body in bodies]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.safety", description=__doc__.split("\n\n")[0])
    parser.add_argument("--terms", type=int, default=200)
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    rng = random.Random(1)
    terms = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10))) for _ in range(args.terms)]
    text = ""
    while len(text) < args.chars:  # random words, about one in a hundred of them blocked
        blocked = rng.random() < 0.01
        text += rng.choice(terms) if blocked else "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9)))
        text += " "
    matcher, patterns = Matcher(terms), per_entry(terms)

    def baseline() -> int:
        folded, _ = fold(text)
        return sum(1 for p in patterns for _ in p.finditer(folded))

    assert baseline() >= len(matcher.find(text)) > 0
    base = timeit.timeit(baseline, number=args.repeat) / args.repeat
    combined = timeit.timeit(lambda: matcher.find(text), number=args.repeat) / args.repeat
    result = {
        "terms": args.terms, "chars": len(text), "repeat": args.repeat,
        "matcher_ms": round(combined * 1000, 3), "baseline_ms": round(base * 1000, 3),
        "speedup": round(base / combined, 2),
    }  # fmt: skip
    print(json.dumps(result))
    print(
        f"blocked-word check: {result['matcher_ms']} ms per {len(text)}-char text with {args.terms} entries; "
        f"{result['speedup']}x faster than one pattern per entry ({result['baseline_ms']} ms)"
    )


if __name__ == "__main__":
    main()
