-- The sandbox of the AdCP agent: sandbox buyer keys buy a sandbox modular source of their
-- storefront, which runs on the real ledger and tables; live keys never see it.

-- One sandbox source per storefront at most; it is listed only to sandbox buyer keys.
ALTER TABLE inventory_source ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE inventory_source ADD CONSTRAINT inventory_source_sandbox_is_modular
  CHECK (NOT sandbox OR execution_type = 'MODULAR_SOURCE');
CREATE UNIQUE INDEX inventory_source_one_sandbox ON inventory_source (storefront_id) WHERE sandbox;

-- Creative formats seeded by comply_test_controller (seed_creative_format, and the format ids
-- of seed_product): once any is seeded they are the sandbox source's whole format catalog.
CREATE TABLE sandbox_creative_format (
  inventory_source_id  bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  format_id            text NOT NULL CHECK (length(format_id) BETWEEN 1 AND 255),
  name                 text NOT NULL,
  -- The fixture's format type word (display, video, audio, ...), or NULL when it gave none.
  format_type          text,
  created_at           timestamptz NOT NULL,
  PRIMARY KEY (inventory_source_id, format_id)
);

-- force_create_media_buy_arm: a one-shot directive of a sandbox key; the key's next
-- create_media_buy takes (deletes) it and answers with that arm.
CREATE TABLE sandbox_create_arm (
  api_key_id   bigint PRIMARY KEY REFERENCES api_key (id) ON DELETE CASCADE,
  arm          text NOT NULL CHECK (arm IN ('submitted', 'input-required')),
  task_id      text CHECK (length(task_id) BETWEEN 1 AND 255),
  message      text,
  created_at   timestamptz NOT NULL,
  CHECK (arm <> 'submitted' OR task_id IS NOT NULL)
);
