-- Execution hand-off: one booking per finalized reservation, and imported delivery.

CREATE TABLE booking (
  id                    bigserial PRIMARY KEY,
  inventory_source_id   bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  -- One booking per reservation: a second finalize finds this row and answers with it.
  reservation_id        bigint NOT NULL UNIQUE REFERENCES reservation (id) ON DELETE CASCADE,
  module_row_id         bigint REFERENCES module_instance (id) ON DELETE SET NULL,
  provider              text NOT NULL,
  media_buy_id          text NOT NULL,
  avail_id              text NOT NULL,
  package_id            text,
  buyer_customer_id     bigint,
  campaign_name         text NOT NULL,
  advertiser_name       text NOT NULL,
  -- {format, durationSeconds, assetUrl, adId?} as the buyer sent it; NULL without a creative.
  creative              jsonb,
  -- The rendered Cadent campaign XML (cadent provider only).
  trafficking_payload   text,
  -- AUTOMATED: POSTed to the Cadent endpoint; HITL: a person books it from a work item.
  trafficking_mode      text NOT NULL CHECK (trafficking_mode IN ('AUTOMATED', 'HITL')),
  -- Identifiers the execution produced: cadentCampaignId, upstreamOrderId, creativeRef.
  external_refs         jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Mirrors the reservation: HELD while the hand-off is open, then BOOKED or RELEASED.
  status                text NOT NULL CHECK (status IN ('HELD', 'BOOKED', 'RELEASED')),
  -- Set when a process starts POSTing the XML; a finalize retries only a stale claim (the process died).
  endpoint_claimed_at   timestamptz,
  -- The last endpoint attempt: {at, ok, httpStatus, error}.
  endpoint_attempt      jsonb,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  booked_at             timestamptz,
  CHECK (status <> 'BOOKED' OR booked_at IS NOT NULL)
);

CREATE INDEX booking_by_media_buy ON booking (inventory_source_id, media_buy_id);

CREATE TABLE delivery_row (
  id                    bigserial PRIMARY KEY,
  inventory_source_id   bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  media_buy_id          text NOT NULL,
  reservation_id        bigint NOT NULL REFERENCES reservation (id) ON DELETE CASCADE,
  avail_id              text NOT NULL,
  delivery_date         date NOT NULL,
  impressions           bigint NOT NULL CHECK (impressions >= 0),
  spend                 numeric(14, 4) CHECK (spend >= 0),
  clicks                bigint CHECK (clicks >= 0),
  completed_views       bigint CHECK (completed_views >= 0),
  -- The UPLOAD_FINAL_REPORT item that imported the row.
  work_item_id          bigint REFERENCES work_item (id) ON DELETE SET NULL,
  imported_at           timestamptz NOT NULL,
  -- One row per day of a line: a re-imported report replaces, never adds.
  UNIQUE (inventory_source_id, media_buy_id, reservation_id, delivery_date)
);

CREATE INDEX delivery_row_by_reservation ON delivery_row (reservation_id);
