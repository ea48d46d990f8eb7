-- Modular sources: module instances, avails, human work items.

CREATE TABLE module_instance (
  id                    bigserial PRIMARY KEY,
  inventory_source_id   bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  module_instance_id    text NOT NULL CHECK (module_instance_id ~ '^[A-Za-z0-9_.-]{1,128}$'),
  kind                  text NOT NULL
    CHECK (kind IN ('INVENTORY_FEED', 'BOOKING_LEDGER', 'TRAFFICKING', 'STATUS_SYNC', 'REPORTING_IMPORT')),
  provider              text NOT NULL,
  name                  text NOT NULL,
  config                jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- NULL means "derive from setup" (CONFIGURING or ACTIVE); operators and runtime failures set the others.
  status_override       text CHECK (status_override IN ('DISABLED', 'ERROR')),
  last_error            text,
  last_checked_at       timestamptz,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  UNIQUE (inventory_source_id, module_instance_id)
);

CREATE TABLE avail (
  id                            bigserial PRIMARY KEY,
  inventory_source_id           bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  avail_id                      text NOT NULL,
  collection_id                 text NOT NULL,
  collection_name               text NOT NULL,
  collection_description        text,
  name                          text NOT NULL,
  channel                       text,
  start_time                    timestamptz NOT NULL,
  end_time                      timestamptz NOT NULL,
  impressions_capacity          bigint NOT NULL CHECK (impressions_capacity >= 0),
  -- Running totals of live ledger entries; changed only by the booking ledger.
  held_impressions              bigint NOT NULL DEFAULT 0 CHECK (held_impressions >= 0),
  booked_impressions            bigint NOT NULL DEFAULT 0 CHECK (booked_impressions >= 0),
  -- Seller-side metadata only: it never adds to or subtracts from sellable capacity.
  upstream_booked_impressions   bigint NOT NULL DEFAULT 0 CHECK (upstream_booked_impressions >= 0),
  cpm                           numeric(14, 4) CHECK (cpm >= 0),
  currency                      text NOT NULL DEFAULT 'USD',
  targeting                     jsonb NOT NULL DEFAULT '{}'::jsonb,
  source_metadata               jsonb NOT NULL DEFAULT '{}'::jsonb,
  status                        text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
  created_at                    timestamptz NOT NULL,
  updated_at                    timestamptz NOT NULL,
  UNIQUE (inventory_source_id, avail_id),
  CHECK (end_time > start_time),
  -- Backstop for the ledger: whatever the code does, an avail is never overbooked.
  CONSTRAINT avail_never_overbooked CHECK (held_impressions + booked_impressions <= impressions_capacity)
);

CREATE INDEX avail_sellable ON avail (inventory_source_id, end_time) WHERE status = 'ACTIVE';

CREATE TABLE work_item (
  id                    bigserial PRIMARY KEY,
  storefront_id         bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  inventory_source_id   bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  module_row_id         bigint REFERENCES module_instance (id) ON DELETE SET NULL,
  kind                  text NOT NULL CHECK (kind IN (
    'APPROVE_MEDIA_BUY', 'REVIEW_CREATIVE', 'CONFIRM_AVAILS', 'APPROVE_RATE_EXCEPTION', 'MAP_CREATIVE_REF',
    'SYNC_UPSTREAM_CREATIVE', 'EXECUTE_UPSTREAM_BOOKING', 'TRAFFIC_TO_CADENT', 'RESOLVE_TRAFFICKING_ERROR',
    'UPLOAD_FINAL_REPORT', 'RESOLVE_SOURCE_HEALTH', 'GENERAL')),
  status                text NOT NULL DEFAULT 'OPEN'
    CHECK (status IN ('OPEN', 'IN_PROGRESS', 'BLOCKED', 'COMPLETED', 'CANCELLED')),
  title                 text NOT NULL,
  description           text,
  resource_type         text,
  resource_id           text,
  media_buy_id          text,
  buyer_customer_id     bigint,
  assigned_to           text,
  due_at                timestamptz,
  payload               jsonb NOT NULL DEFAULT '{}'::jsonb,
  result                jsonb,
  required_result_keys  jsonb NOT NULL DEFAULT '[]'::jsonb,
  blocked_reason        text,
  created_by_type       text NOT NULL,
  created_by_id         text,
  completed_by          text,
  completed_at          timestamptz,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL
);

CREATE INDEX work_item_open_by_source ON work_item (inventory_source_id, kind)
  WHERE status IN ('OPEN', 'IN_PROGRESS', 'BLOCKED');
CREATE INDEX work_item_resource ON work_item (inventory_source_id, resource_type, resource_id);

CREATE TABLE work_item_event (
  id             bigserial PRIMARY KEY,
  work_item_id   bigint NOT NULL REFERENCES work_item (id) ON DELETE CASCADE,
  event_type     text NOT NULL,
  actor_type     text NOT NULL,
  actor_id       text,
  notes          text,
  payload        jsonb,
  created_at     timestamptz NOT NULL
);

CREATE INDEX work_item_event_item ON work_item_event (work_item_id, id);
