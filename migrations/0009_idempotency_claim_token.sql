-- Idempotency claims are owned by a random token, not by their timestamp: two claims can share a
-- timestamp (clocks differ between processes, or stand still in tests), a token cannot.
-- claimed_at is written and judged by the database clock (see src/idempotency/idempotency-store.ts):
-- whether a claim was abandoned by a dead process must not depend on which process's clock asks.
ALTER TABLE idempotency_record ADD COLUMN claim_token text;
ALTER TABLE idempotency_record ADD COLUMN claimed_at timestamptz;
UPDATE idempotency_record SET claim_token = md5(random()::text || storefront_id::text || idempotency_key), claimed_at = created_at;
ALTER TABLE idempotency_record ALTER COLUMN claim_token SET NOT NULL;
ALTER TABLE idempotency_record ALTER COLUMN claimed_at SET NOT NULL;
