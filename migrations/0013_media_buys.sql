-- AdCP media buys (create_media_buy over /mcp): a buyer key's order of one package per product,
-- each package backed by one live reservation of the booking ledger, joined by the public ids
-- (reservation.media_buy_id = media_buy.media_buy_id, reservation.package_id = package_id).

CREATE TABLE media_buy (
  id                     bigserial PRIMARY KEY,
  storefront_id          bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  -- The buyer key that bought it: another key's buy answers exactly like a missing one.
  api_key_id             bigint NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
  buyer_account_id       bigint NOT NULL REFERENCES buyer_account (id) ON DELETE CASCADE,
  -- The public id; random, so it reveals nothing about other buyers' buys.
  media_buy_id           text NOT NULL UNIQUE CHECK (length(media_buy_id) BETWEEN 1 AND 255),
  -- The create request's idempotency_key: a retry that races the SDK's replay cache still
  -- cannot place a second set of holds.
  idempotency_key        text NOT NULL,
  sandbox                boolean NOT NULL,
  -- 'submitted' is internal: the buy waits on people (its AdCP task is open) and the buyer has
  -- no media_buy_id yet. The others are AdCP 3.0.6 media-buy statuses.
  status                 text NOT NULL CHECK (status IN (
                           'submitted', 'pending_creatives', 'pending_start', 'active', 'paused',
                           'completed', 'rejected', 'canceled')),
  currency               text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  start_time             timestamptz NOT NULL,
  end_time               timestamptz NOT NULL,
  po_number              text,
  -- The AdCP task (adcp_decisioning_tasks.task_id) while the buy is submitted, kept afterwards.
  task_id                text UNIQUE,
  -- push_notification_config as the buyer sent it, sealed with the secret box: it may carry
  -- the buyer's webhook credentials, which are never shown again.
  push_notification_sealed text,
  revision               integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
  confirmed_at           timestamptz,
  canceled_at            timestamptz,
  canceled_by            text CHECK (canceled_by IN ('buyer', 'seller')),
  cancellation_reason    text,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  CHECK (end_time > start_time),
  CHECK (status <> 'canceled' OR (canceled_at IS NOT NULL AND canceled_by IS NOT NULL)),
  UNIQUE (api_key_id, idempotency_key)
);

CREATE INDEX media_buy_by_key ON media_buy (api_key_id, id);
CREATE INDEX media_buy_by_storefront ON media_buy (storefront_id, id);

CREATE TABLE media_buy_package (
  id                     bigserial PRIMARY KEY,
  media_buy_row_id       bigint NOT NULL REFERENCES media_buy (id) ON DELETE CASCADE,
  -- The public id, unique within its buy.
  package_id             text NOT NULL CHECK (length(package_id) BETWEEN 1 AND 255),
  inventory_source_id    bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  avail_row_id           bigint NOT NULL REFERENCES avail (id) ON DELETE CASCADE,
  -- '<sourceId>:<availId>' as get_products showed it.
  product_id             text NOT NULL,
  pricing_option_id      text NOT NULL,
  budget                 numeric(14, 4) NOT NULL CHECK (budget >= 0),
  -- What the package's live reservation holds: budget / CPM x 1000, or the buyer's figure.
  impressions            bigint NOT NULL CHECK (impressions > 0),
  cpm                    numeric(14, 4) NOT NULL CHECK (cpm > 0),
  paused                 boolean NOT NULL DEFAULT false,
  canceled_at            timestamptz,
  -- AdCP targeting_overlay, replaced whole by update_media_buy and echoed back.
  targeting_overlay      jsonb,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  UNIQUE (media_buy_row_id, package_id)
);

CREATE INDEX media_buy_package_by_avail ON media_buy_package (avail_row_id);
