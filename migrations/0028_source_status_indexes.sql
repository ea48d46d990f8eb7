-- The readiness projection and GET /status read a source's aggregates (bench/readiness.ts,
-- test/modular/readiness-at-scale.test.ts). Two of their reads had no index that starts with the
-- source, so they scanned rows of every source:
--   - the media buys of a source (the projection's counts per status, the webhook delivery log
--     of /status) are found through their packages' inventory_source_id;
--   - /status sums the delivered impressions of a source's last two delivery dates, and the
--     unique key of delivery_row has the media buy and the reservation between the two.
CREATE INDEX media_buy_package_by_source ON media_buy_package (inventory_source_id, media_buy_row_id);
CREATE INDEX delivery_row_by_source_date ON delivery_row (inventory_source_id, delivery_date);
