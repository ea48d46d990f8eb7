-- Booking ledger: reservations (capacity holds) and their immutable ledger entries.
-- avail.held_impressions / booked_impressions are running totals of these entries.

CREATE TABLE reservation (
  id                      bigserial PRIMARY KEY,
  inventory_source_id     bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  -- Avails are deactivated, never deleted, except together with their source (whose delete is
  -- refused while reservations are live); the cascade only lets that source delete through.
  avail_row_id            bigint NOT NULL REFERENCES avail (id) ON DELETE CASCADE,
  avail_id                text NOT NULL,
  media_buy_id            text NOT NULL CHECK (length(media_buy_id) BETWEEN 1 AND 255),
  package_id              text CHECK (length(package_id) BETWEEN 1 AND 255),
  buyer_customer_id       bigint,
  requested_impressions   bigint NOT NULL CHECK (requested_impressions > 0),
  status                  text NOT NULL CHECK (status IN ('HELD', 'BOOKED', 'RELEASED', 'EXPIRED')),
  -- NULL while the hold does not expire (its execution hand-off is open, or it is no longer HELD).
  expires_at              timestamptz,
  created_at              timestamptz NOT NULL,
  updated_at              timestamptz NOT NULL,
  booked_at               timestamptz,
  released_at             timestamptz,
  expired_at              timestamptz,
  release_reason          text,
  -- Each terminal status carries the time it was reached.
  CHECK (status <> 'BOOKED' OR booked_at IS NOT NULL),
  CHECK (status <> 'RELEASED' OR released_at IS NOT NULL),
  CHECK (status <> 'EXPIRED' OR expired_at IS NOT NULL)
);

-- One live reservation per (media buy, avail, package) on a source; released and expired ones
-- stay as history and do not block a new one. This is also what makes a concurrent duplicate
-- request fail instead of holding twice.
CREATE UNIQUE INDEX reservation_live_key
  ON reservation (inventory_source_id, media_buy_id, avail_id, coalesce(package_id, ''))
  WHERE status IN ('HELD', 'BOOKED');

-- The sweeper's scan and the lazy expiry inside a reservation both look only at due holds.
CREATE INDEX reservation_due ON reservation (expires_at) WHERE status = 'HELD' AND expires_at IS NOT NULL;
CREATE INDEX reservation_due_by_avail ON reservation (avail_row_id, expires_at)
  WHERE status = 'HELD' AND expires_at IS NOT NULL;
-- Listing by source (newest first) and the "live reservations" check before deleting a source.
CREATE INDEX reservation_by_source ON reservation (inventory_source_id, id);
CREATE INDEX reservation_by_media_buy ON reservation (inventory_source_id, media_buy_id);

CREATE TABLE ledger_entry (
  id                bigserial PRIMARY KEY,
  reservation_id    bigint NOT NULL REFERENCES reservation (id) ON DELETE CASCADE,
  avail_row_id      bigint NOT NULL REFERENCES avail (id) ON DELETE CASCADE,
  kind              text NOT NULL CHECK (kind IN ('HOLD', 'BOOK', 'RELEASE', 'EXPIRE')),
  impressions       bigint NOT NULL CHECK (impressions > 0),
  -- What this entry did to the avail's counters; the counters always equal the sums of these.
  held_delta        bigint NOT NULL,
  booked_delta      bigint NOT NULL,
  reason            text,
  created_at        timestamptz NOT NULL,
  -- A reservation is held once and resolved at most once by each kind of entry.
  UNIQUE (reservation_id, kind),
  CHECK (
    (kind = 'HOLD' AND held_delta = impressions AND booked_delta = 0)
    OR (kind = 'BOOK' AND held_delta = -impressions AND booked_delta = impressions)
    OR (kind = 'EXPIRE' AND held_delta = -impressions AND booked_delta = 0)
    OR (kind = 'RELEASE' AND ((held_delta = -impressions AND booked_delta = 0) OR (held_delta = 0 AND booked_delta = -impressions)))
  )
);

CREATE INDEX ledger_entry_by_avail ON ledger_entry (avail_row_id);

-- Entries are immutable: a correction is a new entry, never an edit. Deleting stays possible
-- only through the cascade of deleting the source.
CREATE FUNCTION ledger_entry_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entry rows are immutable' USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE ON ledger_entry
  FOR EACH ROW EXECUTE FUNCTION ledger_entry_refuse_update();
