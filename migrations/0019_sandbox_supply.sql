-- Sandbox supply from an upstream agent: an AGENT source whose credential is a sandbox buyer key
-- of the upstream. While it is ACTIVE, the storefront's sandbox buyer keys are served by that
-- agent (products, buys, comply_test_controller) instead of the storefront's own sandbox source;
-- live keys never see it, and it never sees live buyers.
ALTER TABLE inventory_source ADD COLUMN sandbox_supply boolean NOT NULL DEFAULT false;
ALTER TABLE inventory_source ADD CONSTRAINT inventory_source_sandbox_supply_is_agent
  CHECK (NOT sandbox_supply OR execution_type = 'AGENT');
-- Bare sandbox product ids and the controller's scenarios name one upstream: one at a time.
CREATE UNIQUE INDEX inventory_source_one_active_sandbox_supply ON inventory_source (storefront_id)
  WHERE sandbox_supply AND status = 'ACTIVE';

-- A forwarded create's push_notification_config, sealed like media_buy.push_notification_sealed:
-- the storefront (not the upstream, which would name its own ids) sends the buyer the completion
-- webhook of the storefront's task once the upstream's task settles.
ALTER TABLE forwarded_media_buy ADD COLUMN push_notification_sealed text;
