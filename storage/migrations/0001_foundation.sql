-- Per-server settings moderators control, the audit trail of their changes, and poems.
-- Times are Unix seconds (REAL), written by the application so tests can control the clock.

CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    moderator_role_id INTEGER,
    updated_at        REAL NOT NULL
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    actor_id   INTEGER NOT NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',  -- JSON object
    created_at REAL NOT NULL
);
CREATE INDEX audit_log_by_guild ON audit_log (guild_id, id);

-- Every poem the bot writes is kept, so its buttons (regenerate, another take, save) work after a
-- restart; `saved_at` marks the ones in the server's anthology.
CREATE TABLE poems (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    author_id  INTEGER NOT NULL,
    topic      TEXT NOT NULL,
    form       TEXT NOT NULL,
    mood       TEXT NOT NULL DEFAULT '',
    language   TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    saved_by   INTEGER,
    saved_at   REAL
);
CREATE INDEX poems_anthology ON poems (guild_id, saved_at) WHERE saved_at IS NOT NULL;
