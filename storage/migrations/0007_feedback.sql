-- Learning from play: what the bot wrote (with the exact prompt the model saw), what players thought of
-- it, and which of two texts they preferred. Every row carries the server's training consent at the
-- time it was written; `python -m bot.dataset export` exports only consented rows of consenting servers.
-- Rows hang off what they are about (a poem, a narrator turn, a vote) with ON DELETE CASCADE, so a
-- purged story or a forgotten poem takes its feedback with it.

CREATE TABLE feedback_items (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    kind         TEXT NOT NULL,              -- 'poem', 'narration' (later 'rewrite', 'npc')
    poem_id      INTEGER REFERENCES poems (id) ON DELETE CASCADE,
    turn_id      INTEGER REFERENCES story_turns (id) ON DELETE CASCADE,
    requester_id INTEGER,                    -- who asked for it (poems); NULL for narrations
    prompt       TEXT NOT NULL,              -- JSON chat messages, exactly as sent to the model
    text         TEXT NOT NULL,              -- what was shown and kept
    consent      INTEGER NOT NULL,           -- training_consent when it was written
    approved_by  INTEGER,                    -- saved to the anthology / chosen by a vote
    approved_at  REAL,
    created_at   REAL NOT NULL
);
CREATE INDEX feedback_items_by_guild ON feedback_items (guild_id, created_at);
CREATE INDEX feedback_items_by_poem ON feedback_items (poem_id) WHERE poem_id IS NOT NULL;
CREATE INDEX feedback_items_by_turn ON feedback_items (turn_id) WHERE turn_id IS NOT NULL;

-- One rating per user per item; pressing the other button changes it.
CREATE TABLE feedback_ratings (
    item_id  INTEGER NOT NULL REFERENCES feedback_items (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL,
    rating   INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    consent  INTEGER NOT NULL,
    rated_at REAL NOT NULL,
    PRIMARY KEY (item_id, user_id)
);
CREATE INDEX feedback_ratings_by_user ON feedback_ratings (user_id);

-- The prompt a vote's takes were drafted from, stored when they are drafted (the story moves on after).
CREATE TABLE feedback_vote_prompts (
    vote_id    INTEGER PRIMARY KEY REFERENCES story_votes (id) ON DELETE CASCADE,
    guild_id   INTEGER NOT NULL,
    prompt     TEXT NOT NULL,
    consent    INTEGER NOT NULL,
    created_at REAL NOT NULL
);

-- Preference pairs: a vote's winner over each other take; a regenerated or re-taken poem's new text over
-- the one it replaced.
CREATE TABLE feedback_pairs (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('vote', 'regenerate', 'another')),
    vote_id      INTEGER REFERENCES story_votes (id) ON DELETE CASCADE,
    poem_id      INTEGER REFERENCES poems (id) ON DELETE CASCADE,       -- the poem chosen
    old_poem_id  INTEGER REFERENCES poems (id) ON DELETE CASCADE,       -- another take: the poem passed over
    user_id      INTEGER,                    -- who pressed the button; NULL for a vote (the table chose)
    prompt       TEXT NOT NULL,
    chosen       TEXT NOT NULL,
    rejected     TEXT NOT NULL,
    consent      INTEGER NOT NULL,
    created_at   REAL NOT NULL
);
CREATE INDEX feedback_pairs_by_guild ON feedback_pairs (guild_id, created_at);
CREATE INDEX feedback_pairs_by_user ON feedback_pairs (user_id) WHERE user_id IS NOT NULL;
