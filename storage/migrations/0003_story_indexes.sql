-- Prompt building reads a story's pins on every narration; without an index that read scanned the pins
-- of every story ever told.
CREATE INDEX story_pins_by_story ON story_pins (story_id, id);
-- Votes and ballots are looked up by story and vote on every click.
CREATE INDEX story_votes_by_story ON story_votes (story_id, id);
