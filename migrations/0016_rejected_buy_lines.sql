-- A submitted media buy is bought whole or not at all: when one of its lines ends (a hold expires
-- or is released) the buy is rejected, and its other lines must be released too. They cannot be
-- released in the rejecting transaction (it holds the ending line's lock, and taking the others
-- there would invert the reservation -> buy lock order of concurrent completions), so the buy is
-- marked and every process's sweep releases them (src/workflows/media-buy-workflows.ts).
ALTER TABLE media_buy ADD COLUMN lines_to_release boolean NOT NULL DEFAULT false;
CREATE INDEX media_buy_lines_to_release ON media_buy (id) WHERE lines_to_release;
