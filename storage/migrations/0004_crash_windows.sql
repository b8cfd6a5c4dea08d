-- Crash windows: what the bot was posting or writing when it stopped, so a restart can finish the job.

-- A vote's row is written before its message is posted. If the bot dies after posting but before
-- storing the message's id, the restarted bot finds the message by its buttons among those posted
-- since created_at (and posts the vote again if there is none).
ALTER TABLE story_votes ADD COLUMN created_at REAL;
