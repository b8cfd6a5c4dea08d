"""`python -m bot.playground` (what `make play` starts)."""

import sys

from bot.playground.cli import main

sys.exit(main())
