-- Buyer principals of the AdCP sales agent (POST /mcp): a key's role decides its surface.
-- Every key that existed before is an operator key (REST); buyer keys open /mcp only.

ALTER TABLE api_key ADD COLUMN role text NOT NULL DEFAULT 'operator' CHECK (role IN ('operator', 'buyer'));
-- A sandbox buyer key's accounts are sandbox accounts; only buyer keys can be sandbox keys.
ALTER TABLE api_key ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE api_key ADD CONSTRAINT api_key_sandbox_is_buyer CHECK (role = 'buyer' OR NOT sandbox);

-- AdCP accounts (sync_accounts: brand + operator -> account), owned by the buyer key that
-- synced them: another key's account answers exactly like a missing one.
CREATE TABLE buyer_account (
  id             bigserial PRIMARY KEY,
  storefront_id  bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  api_key_id     bigint NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
  -- The public AdCP account_id; random, so it reveals nothing about other buyers.
  account_id     text NOT NULL UNIQUE,
  brand_domain   text NOT NULL,
  operator       text NOT NULL,
  billing        text CHECK (billing IN ('operator', 'agent', 'advertiser')),
  payment_terms  text,
  sandbox        boolean NOT NULL,
  status         text NOT NULL CHECK (status IN ('active', 'pending_approval', 'rejected', 'payment_required', 'suspended', 'closed')),
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  UNIQUE (api_key_id, brand_domain, operator)
);

-- Tables owned by @adcp/sdk 6.11 (its getAllAdcpMigrations() DDL, verbatim): the replay cache
-- of AdCP idempotency_key and the durable task registry behind tasks/get. The SDK writes them;
-- their now() defaults are the SDK's, our own SQL never relies on them.
CREATE TABLE adcp_idempotency (
  scoped_key    TEXT PRIMARY KEY,
  payload_hash  TEXT NOT NULL,
  response      JSONB NOT NULL,
  expires_at    TIMESTAMPTZ NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_adcp_idempotency_expires_at ON adcp_idempotency (expires_at);

CREATE TABLE adcp_decisioning_tasks (
  task_id         TEXT PRIMARY KEY,
  tool            TEXT NOT NULL,
  account_id      TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'submitted',
  status_message  TEXT,
  result          JSONB,
  error           JSONB,
  progress        JSONB,
  has_webhook     BOOLEAN NOT NULL DEFAULT FALSE,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT adcp_decisioning_tasks_valid_status CHECK (status IN ('submitted', 'working', 'completed', 'failed'))
);

CREATE INDEX idx_adcp_decisioning_tasks_account_id ON adcp_decisioning_tasks (account_id);
CREATE INDEX idx_adcp_decisioning_tasks_status_created ON adcp_decisioning_tasks (status, created_at);
