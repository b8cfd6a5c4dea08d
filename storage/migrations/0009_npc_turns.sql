-- migration: foreign_keys off
-- Issue 10: NPCs inside story rounds, and players' turns shown under their characters' names.
--
-- An NPC's answer in a story round is a story turn of its own kind, 'npc', so the narrator's prompt, the
-- summary, export and undo see it in order. SQLite cannot change a CHECK constraint in place, so
-- story_turns is rebuilt the documented way (https://www.sqlite.org/lang_altertable.html#otheralter):
-- with foreign keys off (the "migration: foreign_keys off" line above tells the runner; a DROP with them
-- on would cascade into feedback_items), create the new table, copy every row with its id, drop the old,
-- rename, recreate the index; the runner runs PRAGMA foreign_key_check before it commits.
CREATE TABLE story_turns_new (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,    -- 1, 2, 3, ... in story order
    round      INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('player', 'narrator', 'skip', 'npc')),
    author_id  INTEGER,             -- the player (also for skips); NULL for the narrator and NPCs
    text       TEXT NOT NULL,
    tokens     INTEGER NOT NULL DEFAULT 0,  -- counted once when written, so prompts are cheap to build
    words      INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    edited_at  REAL,
    speaker    TEXT NOT NULL DEFAULT '',    -- an NPC turn's speaker, as named when it spoke
    UNIQUE (story_id, seq)
);
INSERT INTO story_turns_new (id, story_id, seq, round, kind, author_id, text, tokens, words, created_at, edited_at)
    SELECT id, story_id, seq, round, kind, author_id, text, tokens, words, created_at, edited_at FROM story_turns;
DROP TABLE story_turns;
ALTER TABLE story_turns_new RENAME TO story_turns;
CREATE INDEX story_turns_by_round ON story_turns (story_id, round, seq);

-- `/story start ... as_characters:true`: players' turns are re-posted under their characters' names.
-- A table of its own, so the stories table (and its dataclass) stay as they are.
CREATE TABLE story_characters (
    story_id      INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
    as_characters INTEGER NOT NULL DEFAULT 0
);
