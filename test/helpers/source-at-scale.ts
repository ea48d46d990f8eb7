import { sql, type KyselyPlugin } from 'kysely'
import type { Database } from '../../src/db/database.ts'
import type { InventorySourceRow } from '../../src/db/tables.ts'
import type { Services } from '../../src/services.ts'

/**
 * A modular source the size issue 15 names (10,000 avails, 20,000 reservations, 5,000 work
 * items by default), for the readiness and /status query-count test and bench/readiness.ts. The
 * cadent demo source is built through its workflow; the bulk rows are written with one
 * INSERT ... SELECT per table, in the shapes the ledger and the work queue write them: a tenth
 * of the avails have ended; reservations are HELD (live or due), BOOKED (each with its booking,
 * half of them with a creative) or RELEASED; work items of four kinds, two thirds open, some on
 * the trafficking module and some on the source.
 */
export interface ScaleOptions {
  avails: number
  reservations: number
  workItems: number
}

export const ISSUE_15_SCALE: ScaleOptions = { avails: 10_000, reservations: 20_000, workItems: 5_000 }

export async function seedSourceAtScale(
  services: Services,
  db: Database,
  input: { storefrontId: number; sourceId: string; now: Date } & ScaleOptions,
): Promise<InventorySourceRow> {
  const { now } = input
  await services.modularSources.createCadentDemo(input.storefrontId, { sourceId: input.sourceId, reset: false, seedAvails: true })
  const source = await db.selectFrom('inventory_source').selectAll().where('storefront_id', '=', input.storefrontId).where('source_id', '=', input.sourceId).executeTakeFirstOrThrow()
  const trafficking = await db.selectFrom('module_instance').select('id').where('inventory_source_id', '=', source.id).where('kind', '=', 'TRAFFICKING').executeTakeFirstOrThrow()
  const demoAvails = await db.selectFrom('avail').select(({ fn }) => fn.countAll<number>().as('n')).where('inventory_source_id', '=', source.id).executeTakeFirstOrThrow()
  const extra = input.avails - Number(demoAvails.n)
  const ended = new Date(now.getTime() - 86_400_000)
  await sql`
    INSERT INTO avail (inventory_source_id, avail_id, collection_id, collection_name, collection_description, name, channel,
      start_time, end_time, feed_capacity, cpm, currency, targeting, source_metadata, created_at, updated_at)
    SELECT a.inventory_source_id, 'scale-' || lpad(n::text, 6, '0'), a.collection_id, a.collection_name, a.collection_description, a.name || ' ' || n, a.channel,
      CASE WHEN n % 10 = 0 THEN ${ended}::timestamptz - interval '7 days' ELSE a.start_time END,
      CASE WHEN n % 10 = 0 THEN ${ended}::timestamptz ELSE a.end_time END,
      1000000000, a.cpm, a.currency, a.targeting, a.source_metadata, ${now}, ${now}
    FROM avail a, generate_series(1, ${extra}) AS n
    WHERE a.inventory_source_id = ${source.id}
      AND a.avail_id = (SELECT min(f.avail_id) FROM avail f WHERE f.inventory_source_id = ${source.id})
  `.execute(db)
  // Reservation n sits on the (n mod avails)th avail: status by n mod 4 (HELD live, HELD due, BOOKED, RELEASED).
  await sql`
    WITH numbered AS (
      SELECT id, avail_id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS total
      FROM avail WHERE inventory_source_id = ${source.id}
    )
    INSERT INTO reservation (inventory_source_id, avail_row_id, avail_id, media_buy_id, package_id, buyer_customer_id,
      requested_impressions, status, expires_at, created_at, updated_at, booked_at, released_at, release_reason)
    SELECT ${source.id}, a.id, a.avail_id, 'mb-scale-' || n, 'pkg-1', NULL, 10,
      CASE n % 4 WHEN 0 THEN 'HELD' WHEN 1 THEN 'HELD' WHEN 2 THEN 'BOOKED' ELSE 'RELEASED' END,
      CASE n % 4 WHEN 0 THEN ${now}::timestamptz + interval '1 hour' WHEN 1 THEN ${now}::timestamptz - interval '1 hour' ELSE NULL END,
      ${now}, ${now},
      CASE WHEN n % 4 = 2 THEN ${now}::timestamptz END,
      CASE WHEN n % 4 = 3 THEN ${now}::timestamptz END,
      CASE WHEN n % 4 = 3 THEN 'scale fixture' END
    FROM generate_series(1, ${input.reservations}) AS n
    JOIN numbered a ON a.k = n % a.total
  `.execute(db)
  await sql`
    INSERT INTO booking (inventory_source_id, reservation_id, module_row_id, provider, media_buy_id, avail_id, package_id,
      campaign_name, advertiser_name, creative, trafficking_mode, status, created_at, updated_at, booked_at, endpoint_idempotency_key)
    SELECT r.inventory_source_id, r.id, ${trafficking.id}, 'cadent', r.media_buy_id, r.avail_id, r.package_id,
      'scale campaign', 'scale advertiser',
      CASE WHEN r.id % 2 = 0 THEN '{"format":"video","durationSeconds":30,"assetUrl":"https://cdn.example/spot.mp4"}'::jsonb END,
      'HITL', 'BOOKED', ${now}, ${now}, ${now}, 'scale-' || r.id
    FROM reservation r WHERE r.inventory_source_id = ${source.id} AND r.status = 'BOOKED'
  `.execute(db)
  const kinds = ['TRAFFIC_TO_CADENT', 'MAP_CREATIVE_REF', 'UPLOAD_FINAL_REPORT', 'GENERAL']
  await sql`
    INSERT INTO work_item (storefront_id, inventory_source_id, module_row_id, kind, status, title, resource_type, resource_id,
      created_by_type, created_at, updated_at, completed_at)
    SELECT ${input.storefrontId}, ${source.id}, CASE WHEN n % 2 = 0 THEN ${trafficking.id}::bigint END,
      (${sql.val(kinds)}::text[])[1 + n % 4],
      CASE n % 3 WHEN 0 THEN 'OPEN' WHEN 1 THEN 'IN_PROGRESS' ELSE 'COMPLETED' END,
      'scale work item ' || n, 'reservation', n::text, 'SYSTEM',
      ${now}::timestamptz - (n || ' minutes')::interval, ${now},
      CASE WHEN n % 3 = 2 THEN ${now}::timestamptz END
    FROM generate_series(1, ${input.workItems}) AS n
  `.execute(db)
  await sql`ANALYZE`.execute(db)
  return source
}

/** A Kysely plugin that counts the statements sent through the handle it is plugged into. */
export function statementCounter(): { plugin: KyselyPlugin; count: () => number; reset: () => void } {
  let statements = 0
  return {
    plugin: {
      transformQuery(args) {
        statements += 1
        return args.node
      },
      async transformResult(args) {
        return args.result
      },
    },
    count: () => statements,
    reset: () => { statements = 0 },
  }
}
