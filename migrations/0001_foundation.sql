-- Storefronts, their API keys, inventory sources and stored idempotent responses.

CREATE TABLE storefront (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL
);

CREATE TABLE api_key (
  id             bigserial PRIMARY KEY,
  storefront_id  bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  -- Only a SHA-256 of the key is stored; the prefix lets an operator recognise a key in lists.
  key_hash       text NOT NULL UNIQUE,
  key_prefix     text NOT NULL,
  label          text,
  created_at     timestamptz NOT NULL,
  last_used_at   timestamptz,
  revoked_at     timestamptz
);

CREATE TABLE inventory_source (
  id                          bigserial PRIMARY KEY,
  storefront_id               bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  source_id                   text NOT NULL CHECK (source_id ~ '^[a-z0-9_-]{1,255}$'),
  name                        text NOT NULL,
  execution_type              text NOT NULL
    CHECK (execution_type IN ('AGENT', 'MANAGED_SALES_AGENT', 'LINKED_STOREFRONT', 'MODULAR_SOURCE')),
  status                      text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'DISABLED')),
  description                 text,
  -- AGENT fields
  agent_id                    text,
  agent_type                  text CHECK (agent_type IN ('SALES', 'SIGNAL', 'CREATIVE', 'OUTCOME')),
  endpoint_url                text,
  protocol                    text CHECK (protocol IN ('MCP', 'A2A')),
  authentication_type         text CHECK (authentication_type IN ('API_KEY', 'JWT', 'BASIC_AUTH', 'NO_AUTH', 'OAUTH')),
  -- AES-256-GCM envelope of the credential JSON; never returned, only reported as authConfigured.
  auth_ciphertext             text,
  oauth_audience              text,
  reporting_type              text CHECK (reporting_type IN ('WEBHOOK', 'BUCKET', 'POLLING')),
  reporting_polling_cadence   text CHECK (reporting_polling_cadence IN ('DAILY', 'MONTHLY')),
  -- Result of the last live agent probe; activation requires a passing one.
  probe_passed_at             timestamptz,
  last_error                  text,
  last_checked_at             timestamptz,
  -- Non-secret setup answers (modular feed questionnaire, managed upstream URL and tenant).
  setup_metadata              jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at                  timestamptz NOT NULL,
  updated_at                  timestamptz NOT NULL,
  UNIQUE (storefront_id, source_id)
);

CREATE TABLE idempotency_record (
  storefront_id     bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  idempotency_key   text NOT NULL,
  -- SHA-256 of method, route and body: the same key with another request is refused.
  request_hash      text NOT NULL,
  -- NULL while the first request is still running.
  status_code       integer,
  response_body     text,
  created_at        timestamptz NOT NULL,
  PRIMARY KEY (storefront_id, idempotency_key)
);

-- The sweeper drops records older than 24 hours.
CREATE INDEX idempotency_record_created_at ON idempotency_record (created_at);
