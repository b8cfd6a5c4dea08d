-- NPCs: server-owned characters that speak in channels through a webhook under their own name and avatar.
-- The card fields follow SillyTavern's character card (V2/V3) so cards import and export losslessly:
-- lists and objects are JSON columns, and `extra` keeps every card field Taleweaver does not know.

CREATE TABLE npcs (
    id                        INTEGER PRIMARY KEY,
    guild_id                  INTEGER NOT NULL,
    name                      TEXT NOT NULL,
    name_key                  TEXT NOT NULL,              -- casefolded name: one "Mira" per server
    description               TEXT NOT NULL DEFAULT '',   -- the persona
    personality               TEXT NOT NULL DEFAULT '',
    scenario                  TEXT NOT NULL DEFAULT '',
    first_mes                 TEXT NOT NULL DEFAULT '',   -- the greeting
    mes_example               TEXT NOT NULL DEFAULT '',   -- example dialogue
    system_prompt             TEXT NOT NULL DEFAULT '',
    post_history_instructions TEXT NOT NULL DEFAULT '',
    alternate_greetings       TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    tags                      TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    creator                   TEXT NOT NULL DEFAULT '',
    creator_notes             TEXT NOT NULL DEFAULT '',
    character_version         TEXT NOT NULL DEFAULT '',
    extensions                TEXT NOT NULL DEFAULT '{}', -- JSON object, kept as the card had it
    extra                     TEXT NOT NULL DEFAULT '{}', -- JSON object: unknown card fields, for round trips
    creator_id                INTEGER NOT NULL,           -- the Discord user who made or imported it
    avatar_url                TEXT,
    created_at                REAL NOT NULL,
    updated_at                REAL NOT NULL,
    UNIQUE (guild_id, name_key)
);

-- One webhook per (parent) channel, made on demand and reused; threads use their parent's with thread_id.
CREATE TABLE npc_webhooks (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    webhook_id INTEGER NOT NULL,
    token      TEXT NOT NULL,
    created_at REAL NOT NULL
);

-- Messages an NPC posted (through the webhook, or as the bot's own when webhooks are not allowed), so a
-- reply to one reaches that NPC.
CREATE TABLE npc_messages (
    message_id INTEGER PRIMARY KEY,
    npc_id     INTEGER NOT NULL REFERENCES npcs (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX npc_messages_by_npc ON npc_messages (npc_id);

-- Channels where the bot may not manage webhooks and NPCs speak as the bot: moderators are told once.
CREATE TABLE npc_fallback_notices (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    created_at REAL NOT NULL
);

-- Which NPCs are in the scene of a channel (or thread).
CREATE TABLE npc_scene (
    channel_id INTEGER NOT NULL,
    npc_id     INTEGER NOT NULL REFERENCES npcs (id) ON DELETE CASCADE,
    added_by   INTEGER NOT NULL,
    added_at   REAL NOT NULL,
    PRIMARY KEY (channel_id, npc_id)
);
CREATE INDEX npc_scene_by_npc ON npc_scene (npc_id);

-- What an NPC witnessed: every line said in a channel is written once for each NPC present there, so an
-- NPC's memory holds only what happened where it was. `tokens` is counted once, when written.
CREATE TABLE npc_memory (
    id           INTEGER PRIMARY KEY,
    npc_id       INTEGER NOT NULL REFERENCES npcs (id) ON DELETE CASCADE,
    channel_id   INTEGER NOT NULL,
    speaker_kind TEXT NOT NULL,      -- 'player' or 'npc'
    speaker_id   INTEGER NOT NULL,   -- the user id or the npc id
    speaker_name TEXT NOT NULL,
    text         TEXT NOT NULL,
    tokens       INTEGER NOT NULL DEFAULT 0,
    created_at   REAL NOT NULL
);
CREATE INDEX npc_memory_by_npc_channel ON npc_memory (npc_id, channel_id, id);

-- Per NPC per channel: the rolling summary (of memory rows up to summary_upto) and pinned facts.
CREATE TABLE npc_channel_state (
    npc_id       INTEGER NOT NULL REFERENCES npcs (id) ON DELETE CASCADE,
    channel_id   INTEGER NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    summary_upto INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (npc_id, channel_id)
);
CREATE TABLE npc_pins (
    id         INTEGER PRIMARY KEY,
    npc_id     INTEGER NOT NULL REFERENCES npcs (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    text       TEXT NOT NULL,
    author_id  INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX npc_pins_by_npc_channel ON npc_pins (npc_id, channel_id, id);

-- An NPC's own lore (a card's character_book) lives with the channels' lore: same keys, content and
-- priority, triggered the same way. NPC entries have npc_id set and channel_id 0 (no channel).
-- secondary_keys and constant carry the card's selective and constant flags.
ALTER TABLE lore_entries ADD COLUMN npc_id INTEGER REFERENCES npcs (id) ON DELETE CASCADE;
ALTER TABLE lore_entries ADD COLUMN secondary_keys TEXT NOT NULL DEFAULT '[]';
ALTER TABLE lore_entries ADD COLUMN constant INTEGER NOT NULL DEFAULT 0;
CREATE INDEX lore_by_npc ON lore_entries (npc_id, priority, id) WHERE npc_id IS NOT NULL;
