"""The story domain: the service (state machine), narration, votes, rules, prompts, memory and export.

Knows nothing of Discord; `cogs/stories/` renders what these modules decide.
"""
