"""NPC role-play: characters, SillyTavern cards, scenes, NPC memory."""
