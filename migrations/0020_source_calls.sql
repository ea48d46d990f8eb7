-- What the storefront recorded of its traffic with each inventory source (issue 12, reference
-- §2.7 diagnostics): one row per call the storefront made to an upstream AGENT source, and one
-- row per (buyer tool call at /mcp, modular source it served). Written after the answer, outside
-- any buyer transaction; rows older than 720 h are deleted by the sweeper.

CREATE TABLE source_call (
  id                     bigserial PRIMARY KEY,
  storefront_id          bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  inventory_source_id    bigint NOT NULL REFERENCES inventory_source (id) ON DELETE CASCADE,
  -- AGENT: the AdCP tool asked upstream (get_products, create_media_buy, tasks_get…).
  -- MODULAR_SOURCE: the buyer's tool at /mcp that the source served.
  tool                   text NOT NULL CHECK (length(tool) BETWEEN 1 AND 100),
  -- input_required: the answer was a submitted/working task (people or an upstream still on it).
  outcome                text NOT NULL CHECK (outcome IN ('completed', 'failed', 'input_required', 'timeout')),
  error_code             text CHECK (length(error_code) <= 100),
  error_message          text CHECK (length(error_message) <= 500),
  latency_ms             integer NOT NULL CHECK (latency_ms >= 0),
  -- get_products: how many of the answer's products came from this source.
  products               integer CHECK (products >= 0),
  -- create_media_buy: the packages on this source and their budget.
  packages               integer CHECK (packages >= 0),
  budget                 numeric(18, 4) CHECK (budget >= 0),
  currency               text CHECK (currency ~ '^[A-Z]{3}$'),
  -- The storefront's media_buy_id the call was about, when it has one.
  media_buy_id           text CHECK (length(media_buy_id) <= 255),
  at                     timestamptz NOT NULL,
  CHECK ((outcome IN ('completed', 'input_required')) = (error_code IS NULL))
);

-- The window reads (one source, at >= since) and the most recent calls.
CREATE INDEX source_call_window ON source_call (inventory_source_id, at);
-- The retention sweep (at < cutoff, every storefront).
CREATE INDEX source_call_at ON source_call (at);
