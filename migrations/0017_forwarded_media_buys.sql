-- Media buys forwarded to an upstream AdCP agent (an ACTIVE AGENT source): the storefront's own
-- media_buy_id, which its buyer sees, mapped to the upstream agent's id. The buy itself lives on
-- the upstream; this row only says where, for whom, and which task the buyer polls meanwhile.

CREATE TABLE forwarded_media_buy (
  id                     bigserial PRIMARY KEY,
  storefront_id          bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  -- The buyer key that bought it: another key's buy answers exactly like a missing one.
  api_key_id             bigint NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
  buyer_account_id       bigint NOT NULL REFERENCES buyer_account (id) ON DELETE CASCADE,
  -- The AGENT source the buy lives on; a source with forwarded buys cannot be deleted.
  inventory_source_id    bigint NOT NULL REFERENCES inventory_source (id) ON DELETE RESTRICT,
  -- Random like media_buy.media_buy_id, so it reveals nothing about the upstream's id.
  media_buy_id           text NOT NULL UNIQUE CHECK (length(media_buy_id) BETWEEN 1 AND 255),
  -- Null while the upstream's task is open (it has not named its buy yet).
  upstream_media_buy_id  text,
  upstream_task_id       text,
  -- The storefront's task (adcp_decisioning_tasks) while the upstream's is open.
  task_id                text UNIQUE,
  idempotency_key        text NOT NULL,
  -- The upstream account the buy was placed under: the buyer account's brand and operator
  -- (the storefront's credential is the upstream's buyer; the brand is the advertiser).
  upstream_brand_domain  text NOT NULL,
  upstream_operator      text NOT NULL,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  CHECK (upstream_media_buy_id IS NOT NULL OR upstream_task_id IS NOT NULL),
  UNIQUE (api_key_id, idempotency_key),
  UNIQUE (inventory_source_id, upstream_media_buy_id)
);

CREATE INDEX forwarded_media_buy_owner ON forwarded_media_buy (api_key_id, id);
