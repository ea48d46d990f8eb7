-- The packages of a forwarded media buy, each under a storefront package_id its buyer sees, mapped
-- to the upstream agent's: buyer-visible ids never reveal the upstream's (issue 12). A mapping is
-- made the first time an upstream answer names the package, and never changes.

CREATE TABLE forwarded_package (
  id                     bigserial PRIMARY KEY,
  forwarded_media_buy_id bigint NOT NULL REFERENCES forwarded_media_buy (id) ON DELETE CASCADE,
  -- Random like media_buy_package.package_id, so it reveals nothing about the upstream's.
  package_id             text NOT NULL CHECK (length(package_id) BETWEEN 1 AND 255),
  upstream_package_id    text NOT NULL CHECK (length(upstream_package_id) BETWEEN 1 AND 255),
  created_at             timestamptz NOT NULL,
  UNIQUE (forwarded_media_buy_id, package_id),
  UNIQUE (forwarded_media_buy_id, upstream_package_id)
);
