-- Checked poetic form: what /poem now keeps beside the text.
-- poems.language already exists; it now holds "en" or "zh" for the checked languages (any other
-- language stays as the user wrote it, and its poems are not checked).
ALTER TABLE poems ADD COLUMN word TEXT NOT NULL DEFAULT '';      -- an acrostic's word
ALTER TABLE poems ADD COLUMN drafts INTEGER NOT NULL DEFAULT 0;  -- how many drafts the shown one was chosen from
ALTER TABLE poems ADD COLUMN form_check TEXT;                    -- FormCheck JSON of the shown text; NULL: unchecked

-- Every draft of the latest writing, so a choice can be re-checked (and, later, learnt from).
CREATE TABLE poem_drafts (
    poem_id  INTEGER NOT NULL REFERENCES poems (id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,   -- its place in the batch, from 0
    text     TEXT NOT NULL,      -- what the model wrote, as it wrote it (mentions defused)
    score    REAL NOT NULL,
    passed   INTEGER NOT NULL,
    chosen   INTEGER NOT NULL,
    PRIMARY KEY (poem_id, idx)
);
