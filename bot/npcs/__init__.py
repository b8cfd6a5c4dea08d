"""NPCs: server-owned characters (SillyTavern cards) that speak in channels through webhooks.

model.py        the Npc dataclass and the rules for its fields (names Discord accepts)
service.py      creating, editing, deleting NPCs, pinning their facts, and who may (`may_change`: one rule)
speech.py       prompts, stop sequences, addressing and cleaning: an NPC never writes for anyone else
memory.py       per NPC per channel prompt building on the story memory machinery
conversation.py scenes, replies, `/scene act`, memory writes, rolling summaries, the per-channel rate limit
cards.py        SillyTavern character cards (V1/V2/V3 JSON) in and out; card_fields.py checks their fields
card_png.py     PNG cards (`chara`/`ccv3` text chunks), bounded against hostile files
card_lore.py    a card's character book as the NPC's lore, and back
card_npc.py     a card as an `Npc` and back
card_service.py /npc import and /npc export, Discord-free

An NPC's own lore (a card's character_book) is stored with the channels' lore (storage/lore.py,
`add_for_npc`/`for_npc`: npc_id set, channel_id 0) and triggered by the same keyword matcher.
"""
