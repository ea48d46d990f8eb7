import { DATA_KEYED_MAPS, type TenantStatusWire } from '../../sources/tenant-status.wire.ts'
import { rollUpSetupTasks, type InventorySourceStatus, type SetupTask } from './status.schema.ts'

/**
 * A managed tenant's status in the storefront's shape: the agent's snake_case answer converted
 * field for field to camelCase (last_24h_impressions -> last24hImpressions), fields the storefront
 * does not know included, blocks the agent left out left out. Timestamps were already normalised
 * to ISO-8601 UTC by the wire schema. `fetchedAt` is when the storefront read it.
 */
export function managedStatusFromWire(wire: TenantStatusWire, fetchedAt: Date): InventorySourceStatus {
  const converted = camelizeKeys(wire, '') as InventorySourceStatus
  return { ...converted, fetchedAt: fetchedAt.toISOString() }
}

/**
 * The status with the storefront's own setup tasks first and the tenant's after them, and the
 * counts recomputed over the merged list. The tenant's status is not changed: it may be cached.
 */
export function withStorefrontSetupTasks(status: InventorySourceStatus, storefrontTasks: SetupTask[]): InventorySourceStatus {
  const tenantTasks = status.setupTasks
  return { ...status, setupTasks: { ...tenantTasks, ...rollUpSetupTasks([...storefrontTasks, ...(tenantTasks?.items ?? [])]) } }
}

/** snake_case to camelCase, one word boundary per underscore: last_24h -> last24h, by_kind -> byKind. */
export function camelCaseKey(key: string): string {
  return key.replace(/_+([^_])/g, (match, next: string, offset: number) => (offset === 0 ? match : next.toUpperCase()))
}

function camelizeKeys(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((item) => camelizeKeys(item, path))
  if (value === null || typeof value !== 'object') return value
  const converted = new Map<string, unknown>()
  for (const [key, inner] of Object.entries(value)) {
    // JSON.parse makes "__proto__" an own key; it is never a field, and as one it would be a trap.
    if (key === '__proto__') continue
    const camel = camelCaseKey(key)
    // A key already in camelCase never hides the snake_case field the wire schema checked (fetchedAt vs fetched_at).
    if (key === camel && converted.has(camel)) continue
    const innerPath = path ? `${path}.${key}` : key
    converted.set(camel, DATA_KEYED_MAPS.has(innerPath) ? inner : camelizeKeys(inner, innerPath))
  }
  return Object.fromEntries(converted)
}
