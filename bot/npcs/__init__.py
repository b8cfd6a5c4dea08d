"""NPCs: server-owned characters (SillyTavern cards) that speak in channels through webhooks.

model.py   the Npc dataclass and the rules for its fields (names Discord accepts)
service.py creating, editing, deleting NPCs and who may (one permission rule)
speech.py  prompts, stop sequences and cleaning: an NPC never writes for anyone else
memory.py  per NPC per channel memory on the story memory machinery
scene.py   who is present, who is addressed, `/scene act`

An NPC's own lore (a card's character_book) is stored with the channels' lore (storage/lore.py,
`add_for_npc`/`for_npc`: npc_id set, channel_id 0) and triggered by the same keyword matcher.
"""
