import { sql } from 'kysely'
import { z } from 'zod'
import { availableSql, liveHeldSql } from '../../db/capacity.ts'
import type { Queryable } from '../../db/database.ts'
import type { AvailRow } from '../../db/tables.ts'
import { isStorableText } from '../../shared/common.schema.ts'
import { fail } from '../../shared/errors.ts'
import { ProductSchema } from './product-projection.ts'

/**
 * Reading the sellable avails of a source as product pages. Pages are keyset pages ordered by
 * availId (the source's unique key): `cursor` is opaque and names the last availId of the
 * previous page, so page 500 of a 100k-avail source costs the same as page 1 and a page never
 * repeats or skips a product when avails are added between requests (which `skip` would).
 */

export const PRODUCTS_DEFAULT_LIMIT = 100
export const PRODUCTS_MAX_LIMIT = 200

const booleanQuery = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((value) => value === true || value === 'true' || value === '1')

export const ProductListQuerySchema = z.object({
  collectionId: z.string().min(1).max(255).optional(),
  channel: z.string().min(1).max(255).optional().describe('Matched case-insensitively.'),
  availableOnly: booleanQuery.optional().describe('Only products with availableImpressions > 0.'),
  limit: z.coerce.number().int().min(1).max(PRODUCTS_MAX_LIMIT).default(PRODUCTS_DEFAULT_LIMIT),
  cursor: z.string().min(1).max(2000).optional().describe('nextCursor of the previous page.'),
})
export type ProductListQuery = z.output<typeof ProductListQuerySchema>

export const ProductListSchema = z
  .object({
    products: z.array(ProductSchema),
    nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page.'),
  })
  .meta({ id: 'ProductList' })

export function encodeProductCursor(availId: string): string {
  return Buffer.from(JSON.stringify({ a: availId }), 'utf8').toString('base64url')
}

function decodeProductCursor(cursor: string): string {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    const availId = decoded && typeof decoded === 'object' ? (decoded as { a?: unknown }).a : undefined
    // A forged cursor is request text like any other: it must be storable before it reaches SQL.
    if (typeof availId === 'string' && isStorableText(availId)) return availId
  } catch {
    // fall through to the validation error
  }
  throw fail.invalidField('cursor', 'is not a cursor this API returned')
}

/** One page of ACTIVE avails whose flight has not ended at `now`, plus the cursor of the next page. */
export async function listSellableAvails(
  db: Queryable,
  input: { inventorySourceId: number; now: Date; query: ProductListQuery },
): Promise<{ rows: AvailRow[]; nextCursor: string | null }> {
  const { query } = input
  let select = db
    .selectFrom('avail')
    .selectAll()
    // Due holds count for nothing, swept or not: the page shows what the avail really holds.
    .select(liveHeldSql('avail', input.now).as('live_held_impressions'))
    .where('inventory_source_id', '=', input.inventorySourceId)
    .where('status', '=', 'ACTIVE')
    .where('end_time', '>', input.now)
  if (query.collectionId !== undefined) select = select.where('collection_id', '=', query.collectionId)
  if (query.channel !== undefined) select = select.where(sql<string>`lower(channel)`, '=', query.channel.toLowerCase())
  if (query.availableOnly) select = select.where(sql<boolean>`${availableSql('avail', input.now)} > 0`)
  if (query.cursor !== undefined) select = select.where('avail_id', '>', decodeProductCursor(query.cursor))
  // One extra row tells whether there is a next page without a count query.
  const rows = await select.orderBy('avail_id').limit(query.limit + 1).execute()
  const page = rows.slice(0, query.limit).map(({ live_held_impressions, ...row }) => ({ ...row, held_impressions: Number(live_held_impressions) }))
  const last = page.at(-1)
  return { rows: page, nextCursor: rows.length > query.limit && last ? encodeProductCursor(last.avail_id) : null }
}
