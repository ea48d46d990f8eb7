-- Avails feed previews: a parsed feed waits here until an operator commits it (or it expires).
-- The header keeps the counts, the row errors shown to the operator (capped) and the diff; the
-- normalized rows live in avails_preview_row, written in batches while the feed streams in, so a
-- 100k-row preview is never one giant JSON value.

CREATE TABLE avails_preview (
  id                    bigserial PRIMARY KEY,
  preview_id            text NOT NULL UNIQUE,
  inventory_source_id   bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  -- STAGING while rows stream in; PENDING once shown as a preview; COMMITTED once written to avail;
  -- SUPERSEDED when a newer preview (or a direct commit) of the source replaced it.
  status                text NOT NULL CHECK (status IN ('STAGING', 'PENDING', 'COMMITTED', 'SUPERSEDED')),
  input_source          text NOT NULL CHECK (input_source IN ('api', 'upload', 'paste', 'assistant')),
  replace_missing       boolean NOT NULL,
  parsed_avail_count    integer NOT NULL DEFAULT 0,
  valid_avail_count     integer NOT NULL DEFAULT 0,
  error_count           integer NOT NULL DEFAULT 0,
  -- The first errors (see MAX_REPORTED_ISSUES), for a commit attempt of a preview that has errors.
  errors                jsonb NOT NULL DEFAULT '[]'::jsonb,
  warning_count         integer NOT NULL DEFAULT 0,
  -- {created, updated, unchanged, deactivated} against the committed avails when previewed.
  diff                  jsonb,
  work_item_id          bigint REFERENCES work_item (id) ON DELETE SET NULL,
  expires_at            timestamptz NOT NULL,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  committed_at          timestamptz,
  committed_by          text
);

CREATE INDEX avails_preview_by_source ON avails_preview (inventory_source_id, status);

-- One normalized, error-free feed row; the columns mirror avail so the diff is one set-based query.
CREATE TABLE avails_preview_row (
  preview_row_id                bigint NOT NULL REFERENCES avails_preview (id) ON DELETE CASCADE,
  -- Feed order (0-based); commits read the rows back in this order, in batches.
  position                      integer NOT NULL,
  -- The row number the operator sees (header = row 1 in CSV/XLSX; index + 1 in JSON).
  row_number                    integer NOT NULL,
  avail_id                      text NOT NULL,
  collection_id                 text NOT NULL,
  collection_name               text NOT NULL,
  collection_description        text,
  name                          text NOT NULL,
  channel                       text,
  start_time                    timestamptz NOT NULL,
  end_time                      timestamptz NOT NULL,
  impressions_capacity          bigint NOT NULL,
  upstream_booked_impressions   bigint NOT NULL,
  cpm                           numeric(14, 4),
  currency                      text NOT NULL,
  targeting                     jsonb NOT NULL,
  source_metadata               jsonb NOT NULL,
  PRIMARY KEY (preview_row_id, position)
);
