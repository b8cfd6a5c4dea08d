-- Multiplayer story rounds: one story per channel at a time, its players, every turn, group votes,
-- pinned facts, and per-channel lore. Everything needed to resume a story exactly after a restart
-- lives here: the phase, the round, deadlines, and open votes.

CREATE TABLE stories (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    starter_id       INTEGER NOT NULL,
    title            TEXT NOT NULL,
    genre            TEXT NOT NULL,
    premise          TEXT NOT NULL,
    mode             TEXT NOT NULL CHECK (mode IN ('round-robin', 'free')),
    turn_timeout     INTEGER NOT NULL DEFAULT 0,   -- seconds; 0 = no timeout
    max_rounds       INTEGER NOT NULL DEFAULT 0,   -- 0 = until someone ends it
    narrate_every    INTEGER NOT NULL DEFAULT 3,   -- free mode: contributions per narration
    choices          INTEGER NOT NULL DEFAULT 0,   -- 0 = one continuation; 2 or 3 = players vote
    phase            TEXT NOT NULL DEFAULT 'lobby'
                     CHECK (phase IN ('lobby', 'turns', 'narrating', 'voting', 'held', 'ended')),
    paused           INTEGER NOT NULL DEFAULT 0,
    round            INTEGER NOT NULL DEFAULT 0,   -- 0 = the opening; players write from round 1
    deadline         REAL,                         -- when the current turn (or vote) times out
    author_note      TEXT NOT NULL DEFAULT '',
    summary          TEXT NOT NULL DEFAULT '',
    summary_upto     INTEGER NOT NULL DEFAULT 0,   -- turns with seq <= this are in the summary
    lobby_message_id INTEGER,
    created_at       REAL NOT NULL,
    ended_at         REAL
);
-- At most one story that is not over per channel (or thread).
CREATE UNIQUE INDEX stories_one_open_per_channel ON stories (channel_id) WHERE phase <> 'ended';
CREATE INDEX stories_open ON stories (phase) WHERE phase <> 'ended';

CREATE TABLE story_players (
    story_id   INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    name       TEXT NOT NULL,       -- the character's name, used by the narrator
    position   INTEGER NOT NULL,    -- turn order
    joined_at  REAL NOT NULL,
    left_at    REAL,
    PRIMARY KEY (story_id, user_id)
);

CREATE TABLE story_turns (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,    -- 1, 2, 3, ... in story order
    round      INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('player', 'narrator', 'skip')),
    author_id  INTEGER,             -- the player (also for skips); NULL for the narrator
    text       TEXT NOT NULL,
    tokens     INTEGER NOT NULL DEFAULT 0,  -- counted once when written, so prompts are cheap to build
    words      INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    edited_at  REAL,
    UNIQUE (story_id, seq)
);
CREATE INDEX story_turns_by_round ON story_turns (story_id, round, seq);

CREATE TABLE story_votes (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    round      INTEGER NOT NULL,
    options    TEXT NOT NULL,       -- JSON array of continuations
    deadline   REAL NOT NULL,
    message_id INTEGER,
    closed_at  REAL,
    winner     INTEGER
);
CREATE INDEX story_votes_open ON story_votes (story_id) WHERE closed_at IS NULL;

CREATE TABLE story_ballots (
    vote_id  INTEGER NOT NULL REFERENCES story_votes (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL,
    choice   INTEGER NOT NULL,
    cast_at  REAL NOT NULL,
    PRIMARY KEY (vote_id, user_id)
);

CREATE TABLE story_pins (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL,
    text       TEXT NOT NULL,
    created_at REAL NOT NULL
);

-- World facts per channel, inserted into the narrator's prompt when a key appears in recent turns.
CREATE TABLE lore_entries (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    keys       TEXT NOT NULL,       -- JSON array of lower-cased trigger words or phrases
    content    TEXT NOT NULL,
    priority   INTEGER NOT NULL DEFAULT 100,  -- insertion order: higher goes later, nearer the end
    author_id  INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX lore_by_channel ON lore_entries (channel_id, priority, id);
