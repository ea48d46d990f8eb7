-- The seller's capacity figure is stored as the feed gave it; what is shown and what is sellable
-- are derived from it and the ledger's counters (src/db/capacity.ts, docs/booking-ledger.md):
--   impressionsCapacity  = max(feed_capacity, held + booked)
--   availableImpressions = max(0, feed_capacity - held - booked)
-- Until now a feed below the commitments stored held + booked instead, so a release left the
-- raised figure sellable for ever.
--
-- Backfill: the column keeps today's value. For an avail that a feed floored, the seller's lower
-- figure was never stored and cannot be recovered; its next feed puts the seller's figure back.
ALTER TABLE avail RENAME COLUMN impressions_capacity TO feed_capacity;

-- Commitments may exceed the feed figure (a feed never cuts existing holds and bookings), so the
-- old CHECK held + booked <= capacity no longer holds. The backstop that replaces it: held +
-- booked may only grow (a new hold) while it stays within the feed figure. A BOOK moves held to
-- booked and leaves the sum alone; releases and expiries lower it.
ALTER TABLE avail DROP CONSTRAINT avail_never_overbooked;

CREATE FUNCTION avail_refuse_overbooking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'avail % would hold or book % impressions over its feed capacity of %',
    NEW.id, NEW.held_impressions + NEW.booked_impressions, NEW.feed_capacity
    USING ERRCODE = 'check_violation', CONSTRAINT = 'avail_never_overbooked';
END
$$;

-- The WHEN clause is evaluated without calling the function, so ordinary updates pay nothing.
CREATE TRIGGER avail_never_overbooked BEFORE UPDATE OF held_impressions, booked_impressions ON avail
  FOR EACH ROW
  WHEN (NEW.held_impressions + NEW.booked_impressions > OLD.held_impressions + OLD.booked_impressions
    AND NEW.held_impressions + NEW.booked_impressions > NEW.feed_capacity)
  EXECUTE FUNCTION avail_refuse_overbooking();

