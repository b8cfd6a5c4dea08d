"""How fast the model writes on this machine, measured once per session, for tests that must wait for it.

Timing-dependent checks scale with this instead of budgets tuned to one machine: a busy or slow
machine gets proportionally longer, an idle one keeps the tight bounds.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass

PACE_TOKENS = 48  # the reference generation: one e2e narration's worth


@dataclass(frozen=True)
class Pace:
    reference_s: float  # seconds for PACE_TOKENS tokens after a short prompt, prefill included

    @property
    def per_token_s(self) -> float:
        return self.reference_s / PACE_TOKENS

    def allow(self, floor: float, tokens: float) -> float:
        """At least `floor` seconds, or the time this machine takes to write `tokens` tokens."""
        return max(floor, tokens * self.per_token_s)

    # The reference is measured once, alone; later the same machine may be busier still, and tests run
    # several generations at once (two stories, a vote's two takes). Hence the wide margins below.

    @property
    def hang_guard(self) -> float:
        """pytest-timeout for a test that waits on the model: only a net for hangs, never a budget."""
        return max(600.0, 80 * self.reference_s)

    @property
    def engine_timeout(self) -> float:
        """ENGINE_TIMEOUT for a test bot: far above any generation the tests ask for, on this machine."""
        return max(300.0, 40 * self.reference_s)


def measure(engine_url: str, api_key: str | None = None) -> Pace:
    body = {"model": "m", "messages": [{"role": "user", "content": "Describe a lantern-lit road at dusk."}]}
    body.update(max_tokens=PACE_TOKENS, temperature=0.8, seed=7)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
    request = urllib.request.Request(f"{engine_url}/v1/chat/completions", json.dumps(body).encode(), headers)
    began = time.monotonic()
    with urllib.request.urlopen(request, timeout=3600) as reply:
        json.loads(reply.read())
    return Pace(time.monotonic() - began)
