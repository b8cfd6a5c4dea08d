"""Talking to a language model: the engine client, the engine supervisor, and the typed messages between."""
