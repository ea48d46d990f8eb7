-- TV buying (issue 14): flat-rate pricing next to CPM, measurement windows on avails, flat-rate
-- packages, and windowed delivery rows.

-- The seller's feed may price an avail at a flat rate, per spot (the avail is spot_count spots,
-- its capacity split evenly between them) or per package (the whole avail), next to or instead of
-- the CPM; and may name the measurement windows its reports come in (["live", "c3", "c7"]).
-- The same columns on the staged preview rows (src/db/avail-columns.ts is the one list).
ALTER TABLE avail
  ADD COLUMN flat_rate numeric(14, 4) CHECK (flat_rate > 0),
  ADD COLUMN flat_rate_unit text CHECK (flat_rate_unit IN ('spot', 'package')),
  ADD COLUMN spot_count bigint CHECK (spot_count >= 1),
  ADD COLUMN measurement_windows jsonb NOT NULL DEFAULT '[]',
  ADD CHECK ((flat_rate IS NULL) = (flat_rate_unit IS NULL)),
  ADD CHECK (CASE WHEN flat_rate_unit = 'spot' THEN spot_count IS NOT NULL ELSE spot_count IS NULL END);

ALTER TABLE avails_preview_row
  ADD COLUMN flat_rate numeric(14, 4),
  ADD COLUMN flat_rate_unit text,
  ADD COLUMN spot_count bigint,
  ADD COLUMN measurement_windows jsonb NOT NULL DEFAULT '[]';

-- How a package is priced: at the avail's CPM, or at its flat rate (spots bought, or the whole
-- package). cpm stays the package's effective CPM (cost / impressions x 1000), which the ledger's
-- hand-off and approval carry beside the flat rate.
ALTER TABLE media_buy_package
  ADD COLUMN pricing_model text NOT NULL DEFAULT 'cpm' CHECK (pricing_model IN ('cpm', 'flat_rate')),
  ADD COLUMN flat_rate numeric(14, 4) CHECK (flat_rate > 0),
  ADD COLUMN flat_rate_unit text CHECK (flat_rate_unit IN ('spot', 'package')),
  ADD COLUMN spots bigint CHECK (spots >= 1),
  ADD CHECK ((pricing_model = 'flat_rate') = (flat_rate IS NOT NULL AND flat_rate_unit IS NOT NULL)),
  ADD CHECK (CASE WHEN flat_rate_unit = 'spot' THEN spots IS NOT NULL ELSE spots IS NULL END);

-- The measurement window a delivery row was measured in (null: not windowed), whether the seller
-- calls it final, and the narrower window it replaced (a C7 report superseding a live one).
ALTER TABLE delivery_row
  ADD COLUMN measurement_window text CHECK (measurement_window IN ('live', 'c3', 'c7')),
  ADD COLUMN is_final boolean,
  ADD COLUMN supersedes_window text CHECK (supersedes_window IN ('live', 'c3', 'c7'));
