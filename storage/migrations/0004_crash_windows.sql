-- Crash windows: what the bot was posting or writing when it stopped, so a restart can finish the job.

-- A vote's row is written before its message is posted. If the bot dies after posting but before
-- storing the message's id, the restarted bot finds the message by its buttons among those posted
-- since created_at (and posts the vote again if there is none).
ALTER TABLE story_votes ADD COLUMN created_at REAL;

-- Messages the bot is writing into: a streamed narration or poem, the narrator's "imagining" notice.
-- A row is written before the message is posted and dropped once the message is finished; rows left
-- over at the next start belong to messages a crash cut off, which are then marked as interrupted.
CREATE TABLE unfinished_messages (
    id                INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL,        -- 'narration', 'notice' or 'poem'
    ref_id            INTEGER NOT NULL,     -- the story or the poem
    channel_id        INTEGER NOT NULL,
    message_id        INTEGER,              -- NULL until Discord returned it (then found by scanning)
    interaction_token TEXT,                 -- poems: edits the interaction's own response (for 15 minutes)
    started_at        REAL NOT NULL
);
CREATE INDEX unfinished_messages_by_kind ON unfinished_messages (kind, id);
