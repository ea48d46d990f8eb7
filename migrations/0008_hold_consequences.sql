-- A booking follows its reservation into EXPIRED, and the Cadent endpoint POST carries a key that
-- is unique to the booking across installations (a receiver deduplicates on it).

ALTER TABLE booking DROP CONSTRAINT booking_status_check;
ALTER TABLE booking ADD CONSTRAINT booking_status_check CHECK (status IN ('HELD', 'BOOKED', 'RELEASED', 'EXPIRED'));

ALTER TABLE booking ADD COLUMN endpoint_idempotency_key text;
-- Bookings made before this migration keep the key they were (or would have been) sent with.
UPDATE booking SET endpoint_idempotency_key = 'storefront-booking-' || id;
ALTER TABLE booking ALTER COLUMN endpoint_idempotency_key SET NOT NULL;
ALTER TABLE booking ADD CONSTRAINT booking_endpoint_idempotency_key_unique UNIQUE (endpoint_idempotency_key);

-- The hand-off reconciler looks for holds whose expiry is suspended (a hand-off is open).
CREATE INDEX reservation_handoff_open ON reservation (id) WHERE status = 'HELD' AND expires_at IS NULL;
