-- Work-item kinds are declared by the module contracts that open them and gathered by the
-- module registry (src/modules/work-queue/work-item-kinds.ts), so a provider brings its own
-- kind without a migration. The closed CHECK of 0002 goes; openWorkItem refuses an undeclared
-- kind, and the column keeps the shape every kind has.
ALTER TABLE work_item DROP CONSTRAINT work_item_kind_check;
ALTER TABLE work_item ADD CONSTRAINT work_item_kind_shape CHECK (kind ~ '^[A-Z][A-Z0-9_]{0,63}$');
