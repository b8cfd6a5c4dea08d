"""python -m bot.evaluate: see `bot.evaluate.cli`."""

from bot.evaluate.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
