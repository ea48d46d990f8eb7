-- A media buy's reporting_webhook (create_media_buy), sealed with the secret box like
-- push_notification_sealed: its authentication carries the buyer's credentials. When an operator
-- imports a delivery report for the buy, the delivery notification goes there (or, without one,
-- to the buy's push_notification_config), through the webhook outbox (migration 0022).
ALTER TABLE media_buy ADD COLUMN reporting_webhook_sealed text;
