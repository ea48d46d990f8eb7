-- The persistent outbox of buyers' webhooks (issue 14). An event is written in the transaction of
-- the change it announces (a rolled-back change leaves none), and every server process sends due
-- events: a claim takes rows with FOR UPDATE SKIP LOCKED and leases them (claimed_until), so one
-- event has at most one delivery in flight across processes. Its idempotency_key is fixed here,
-- once, so every retry from any process after any restart carries the same bytes.

CREATE TABLE webhook_outbox (
  id                 bigserial PRIMARY KEY,
  storefront_id      bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  -- The buy the event is about, if any: the source status counts the webhooks of its buys.
  media_buy_row_id   bigint REFERENCES media_buy (id) ON DELETE SET NULL,
  -- One logical event (e.g. create_media_buy.<task_id>): enqueued at most once.
  operation_id       text NOT NULL UNIQUE CHECK (length(operation_id) BETWEEN 1 AND 255),
  idempotency_key    text NOT NULL UNIQUE CHECK (idempotency_key ~ '^[A-Za-z0-9_.:-]{16,255}$'),
  -- {url, authentication?} sealed with the secret box: a URL's query and the buyer's credentials
  -- are secrets. destination_origin (scheme://host[:port]) is what logs and operators see.
  destination_sealed text NOT NULL,
  destination_origin text NOT NULL,
  -- Sandbox keys' events may go to loopback and private receivers.
  sandbox            boolean NOT NULL,
  -- The mcp-webhook-payload body as text, without idempotency_key (added at send): the same bytes
  -- on every attempt.
  payload            text NOT NULL,
  status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts           integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at    timestamptz NOT NULL,
  -- The lease of the process sending it now; its token makes a late answer of an expired lease a no-op.
  claimed_until      timestamptz,
  claim_token        text,
  first_attempt_at   timestamptz,
  last_attempt_at    timestamptz,
  last_status_code   integer,
  last_error         text,
  delivered_at       timestamptz,
  failed_at          timestamptz,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  CHECK (status <> 'delivered' OR delivered_at IS NOT NULL),
  CHECK (status <> 'failed' OR failed_at IS NOT NULL)
);

-- The sender's scan: due pending events only.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_outbox_by_buy ON webhook_outbox (media_buy_row_id) WHERE media_buy_row_id IS NOT NULL;

-- The delivery log: one row per attempt that got an answer or a transport error. An attempt cut
-- off by a crash leaves no row (its event's attempts count it, and it is retried after the lease).
CREATE TABLE webhook_delivery (
  id                 bigserial PRIMARY KEY,
  outbox_id          bigint NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
  attempt            integer NOT NULL CHECK (attempt >= 1),
  -- delivered (2xx), retry (5xx, 408, 429, network) or failed (final: another 4xx, a refused
  -- destination, or the 24 h give-up).
  outcome            text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
  status_code        integer,
  -- Without the URL's query or any credential.
  error              text,
  started_at         timestamptz NOT NULL,
  duration_ms        integer NOT NULL CHECK (duration_ms >= 0)
);

CREATE INDEX webhook_delivery_by_event ON webhook_delivery (outbox_id, attempt);
CREATE INDEX webhook_delivery_by_time ON webhook_delivery (started_at);
