-- One-time console sign-in links (issue 13): `storefront serve` prints one for the bootstrap storefront.
-- Only the token's hash is stored; a link signs in as its API key (an operator key), once, before it
-- expires, and never after that key is revoked (src/access/access-service.ts).
CREATE TABLE console_sign_in_link (
  id bigserial PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  api_key_id bigint NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX console_sign_in_link_expires_at ON console_sign_in_link (expires_at);
