-- The AdCP creative library (sync_creatives / list_creatives over /mcp): a buyer key's creatives,
-- keyed by the buyer's own creative_id, and their assignments to packages of the key's media buys.

CREATE TABLE creative (
  id                     bigserial PRIMARY KEY,
  storefront_id          bigint NOT NULL REFERENCES storefront (id) ON DELETE CASCADE,
  -- The buyer key whose library it is: another key's creative answers exactly like a missing one.
  api_key_id             bigint NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
  -- The account the last sync named.
  buyer_account_id       bigint NOT NULL REFERENCES buyer_account (id) ON DELETE CASCADE,
  -- The buyer's id (AdCP creative_id), unique in the key's library.
  creative_id            text NOT NULL CHECK (length(creative_id) BETWEEN 1 AND 255),
  name                   text NOT NULL,
  -- AdCP format_id {agent_url, id, ...} as the buyer sent it; format_key is its id, for filters.
  format                 jsonb NOT NULL,
  format_key             text NOT NULL,
  format_agent_url       text NOT NULL,
  assets                 jsonb NOT NULL,
  -- [{type, value}] as sent (Ad-ID, ISCI, clearcast); ad_id is the Ad-ID among them.
  industry_identifiers   jsonb NOT NULL DEFAULT '[]',
  ad_id                  text,
  tags                   jsonb NOT NULL DEFAULT '[]',
  status                 text NOT NULL CHECK (status IN ('processing', 'pending_review', 'approved', 'rejected', 'archived')),
  sandbox                boolean NOT NULL,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  UNIQUE (api_key_id, creative_id)
);

CREATE INDEX creative_by_key ON creative (api_key_id, id);

-- A creative in rotation on a package. A buy's cancellation leaves both the creative and its
-- library status alone: only the package (and this row with it) is gone when the buy row is.
CREATE TABLE creative_assignment (
  id                     bigserial PRIMARY KEY,
  creative_row_id        bigint NOT NULL REFERENCES creative (id) ON DELETE CASCADE,
  package_row_id         bigint NOT NULL REFERENCES media_buy_package (id) ON DELETE CASCADE,
  -- AdCP weight 0-100; NULL is equal rotation with the other unweighted creatives.
  weight                 numeric(5, 2) CHECK (weight BETWEEN 0 AND 100),
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  UNIQUE (creative_row_id, package_row_id)
);

CREATE INDEX creative_assignment_by_package ON creative_assignment (package_row_id);
