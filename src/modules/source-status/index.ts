// The public surface of source-status/: other folders import it from here, never from its files (eslint.config.js).
export { knownSourceStatus, storefrontSetupTasks, type RecentTraffic } from './known-status.ts'
export { camelCaseKey, managedStatusFromWire, withStorefrontSetupTasks } from './managed-status.ts'
export {
  computeModularStatus,
  loadModularStatusCounts,
  statusFactsOf,
  type SourceStatus,
} from './modular-status.ts'
export { TenantStatusWireSchema, WireTimestampSchema, type TenantStatusWire } from './tenant-status.wire.ts'
export {
  InventorySourceStatusSchema,
  rollUpSetupTasks,
  type InventorySourceStatus,
  type ModularStatus,
  type SetupTask,
} from './status.schema.ts'
