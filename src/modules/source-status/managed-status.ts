import type { z } from 'zod'
import { DATA_KEYED_MAPS, TenantStatusWireSchema, type TenantStatusWire } from './tenant-status.wire.ts'
import { rollUpSetupTasks, type InventorySourceStatus, type SetupTask } from './status.schema.ts'

/**
 * A managed tenant's status in the storefront's shape: the agent's snake_case answer converted
 * field for field to camelCase (last_24h_impressions -> last24hImpressions), fields the storefront
 * does not know included, blocks the agent left out left out. Timestamps were already normalised
 * to ISO-8601 UTC by the wire schema. `fetchedAt` is when the storefront read it.
 */
export function managedStatusFromWire(wire: TenantStatusWire, fetchedAt: Date): InventorySourceStatus {
  const converted = camelizeKeys(wire, '', TenantStatusWireSchema) as InventorySourceStatus
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

/** The wire schema's node for a value, through optional, nullable, arrays and transforms; undefined when unknown. */
function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let node = schema
  for (let depth = 0; node && depth < 8; depth++) {
    const def = node._zod.def as { type: string; innerType?: z.ZodType; element?: z.ZodType; in?: z.ZodType }
    if (def.type === 'optional' || def.type === 'nullable') node = def.innerType
    else if (def.type === 'array') node = def.element
    else if (def.type === 'pipe') node = def.in
    else return node
  }
  return node
}

function childSchema(schema: z.ZodType | undefined, key: string): z.ZodType | undefined {
  const def = schema?._zod.def as { type: string; shape?: Record<string, z.ZodType>; catchall?: z.ZodType } | undefined
  if (def?.type !== 'object') return undefined
  const child = Object.hasOwn(def.shape!, key) ? def.shape![key] : def.catchall
  // A loose object's catchall is "anything": its keys are not known fields.
  return child && child._zod.def.type !== 'unknown' ? unwrap(child) : undefined
}

/** The camelCase names of the fields the wire schema checks at this node (last_tested_at -> lastTestedAt). */
function checkedCamelNames(schema: z.ZodType | undefined): Set<string> {
  const def = schema?._zod.def as { type: string; shape?: Record<string, z.ZodType> } | undefined
  if (def?.type !== 'object') return new Set()
  return new Set(Object.keys(def.shape!).map(camelCaseKey).filter((camel) => !Object.hasOwn(def.shape!, camel)))
}

function camelizeKeys(value: unknown, path: string, schema: z.ZodType | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => camelizeKeys(item, path, schema))
  if (value === null || typeof value !== 'object') return value
  const shadowed = checkedCamelNames(schema)
  const converted = new Map<string, unknown>()
  for (const [key, inner] of Object.entries(value)) {
    // JSON.parse makes "__proto__" an own key; it is never a field, and as one it would be a trap.
    if (key === '__proto__') continue
    // The storefront reads its known fields in their snake_case spelling, checked: a camelCase
    // spelling (fetchedAt, lastTestedAt) was never checked, so it never stands in for one, twin or not.
    if (shadowed.has(key)) continue
    const innerPath = path ? `${path}.${key}` : key
    converted.set(camelCaseKey(key), DATA_KEYED_MAPS.has(innerPath) ? inner : camelizeKeys(inner, innerPath, childSchema(schema, key)))
  }
  return Object.fromEntries(converted)
}
