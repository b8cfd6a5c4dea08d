-- The configuration registry's values: one row per (server, scope, key) a moderator set. Scope 0 is the
-- server itself, otherwise a channel (or thread) id. Values are JSON, typed by bot/config's declarations;
-- a key nobody set has no row and resolves to its default.
CREATE TABLE config_values (
    guild_id   INTEGER NOT NULL,
    scope_id   INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_by INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, scope_id, key)
);

-- What /settings moderator-role stored becomes the registry's `moderator_role` (actor 0: the migration).
INSERT INTO config_values (guild_id, scope_id, key, value, updated_by, updated_at)
SELECT guild_id, 0, 'moderator_role', CAST(moderator_role_id AS TEXT), 0, updated_at
FROM guild_settings WHERE moderator_role_id IS NOT NULL;

-- guild_settings stays (no longer read) so older tools and the storage tests that use it as a plain table work.
