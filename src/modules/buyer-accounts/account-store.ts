import { randomBytes } from 'node:crypto'
import type { Queryable, Transaction } from '../../db/database.ts'
import type { BuyerAccountRow, BuyerAccountStatus } from '../../db/tables.ts'

/**
 * AdCP accounts of buyer keys (sync_accounts / list_accounts). Every read is scoped by the buyer
 * key: another key's account is simply not found, so it answers exactly like a missing one.
 */

export interface AccountOwner {
  storefrontId: number
  apiKeyId: number
  sandbox: boolean
}

export interface AccountInput {
  brandDomain: string
  operator: string
  billing: 'operator' | 'agent' | 'advertiser' | null
  paymentTerms: string | null
}

export const ACCOUNTS_DEFAULT_LIMIT = 50
export const ACCOUNTS_MAX_LIMIT = 100

function newAccountId(): string {
  return `acct_${randomBytes(12).toString('base64url')}`
}

/**
 * Creates the key's account for brand + operator, or updates its billing terms. `action` says which,
 * and `unchanged` when the stored account already had these terms.
 */
export async function upsertAccount(
  db: Queryable,
  owner: AccountOwner,
  input: AccountInput,
  now: Date,
): Promise<{ row: BuyerAccountRow; action: 'created' | 'updated' | 'unchanged' }> {
  const existing = await findAccountByBrand(db, owner, input.brandDomain, input.operator)
  if (existing) {
    const billing = input.billing ?? existing.billing
    const paymentTerms = input.paymentTerms ?? existing.payment_terms
    if (billing === existing.billing && paymentTerms === existing.payment_terms) return { row: existing, action: 'unchanged' }
    const row = await db
      .updateTable('buyer_account')
      .set({ billing, payment_terms: paymentTerms, updated_at: now })
      .where('id', '=', existing.id)
      .returningAll()
      .executeTakeFirstOrThrow()
    return { row, action: 'updated' }
  }
  const status: BuyerAccountStatus = 'active'
  const inserted = await db
    .insertInto('buyer_account')
    .values({
      storefront_id: owner.storefrontId,
      api_key_id: owner.apiKeyId,
      account_id: newAccountId(),
      brand_domain: input.brandDomain,
      operator: input.operator,
      billing: input.billing,
      payment_terms: input.paymentTerms,
      sandbox: owner.sandbox,
      status,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(['api_key_id', 'brand_domain', 'operator']).doNothing())
    .returningAll()
    .executeTakeFirst()
  if (inserted) return { row: inserted, action: 'created' }
  // A concurrent sync of the same brand + operator won the insert: that account is this one.
  const raced = await findAccountByBrand(db, owner, input.brandDomain, input.operator)
  return { row: raced!, action: 'unchanged' }
}

export async function findAccountByBrand(db: Queryable, owner: AccountOwner, brandDomain: string, operator: string): Promise<BuyerAccountRow | undefined> {
  return db
    .selectFrom('buyer_account')
    .selectAll()
    .where('api_key_id', '=', owner.apiKeyId)
    .where('brand_domain', '=', brandDomain)
    .where('operator', '=', operator)
    .executeTakeFirst()
}

export async function findAccountById(db: Queryable, owner: AccountOwner, accountId: string): Promise<BuyerAccountRow | undefined> {
  return db
    .selectFrom('buyer_account')
    .selectAll()
    .where('api_key_id', '=', owner.apiKeyId)
    .where('account_id', '=', accountId)
    .executeTakeFirst()
}

export interface AccountListFilter {
  brandDomain?: string | undefined
  operator?: string | undefined
  statuses?: readonly BuyerAccountStatus[] | undefined
  /** The last row id of the previous page. */
  afterId?: number | undefined
  limit: number
}

/** One keyset page of the key's accounts in creation order, plus whether more follow. */
export async function listAccounts(db: Queryable, owner: AccountOwner, filter: AccountListFilter): Promise<{ rows: BuyerAccountRow[]; hasMore: boolean }> {
  let select = db.selectFrom('buyer_account').selectAll().where('api_key_id', '=', owner.apiKeyId)
  if (filter.brandDomain !== undefined) select = select.where('brand_domain', '=', filter.brandDomain)
  if (filter.operator !== undefined) select = select.where('operator', '=', filter.operator)
  if (filter.statuses !== undefined && filter.statuses.length > 0) select = select.where('status', 'in', [...filter.statuses])
  if (filter.afterId !== undefined) select = select.where('id', '>', filter.afterId)
  const rows = await select.orderBy('id').limit(filter.limit + 1).execute()
  return { rows: rows.slice(0, filter.limit), hasMore: rows.length > filter.limit }
}

/** force_account_status (sandbox accounts only): the key's account moved to `status`, or undefined when it is not the key's. */
export async function setSandboxAccountStatus(
  db: Queryable,
  owner: AccountOwner,
  accountId: string,
  status: BuyerAccountStatus,
  now: Date,
): Promise<{ previous: BuyerAccountStatus; row: BuyerAccountRow } | undefined> {
  const existing = await findAccountById(db, owner, accountId)
  if (!existing || !existing.sandbox) return undefined
  const row = await db
    .updateTable('buyer_account')
    .set({ status, updated_at: now })
    .where('id', '=', existing.id)
    .returningAll()
    .executeTakeFirstOrThrow()
  return { previous: existing.status, row }
}

/** Sandbox reset: deletes the storefront's sandbox accounts (their buys cascade) and returns their public ids. */
export async function deleteSandboxAccounts(trx: Transaction, storefrontId: number): Promise<string[]> {
  const rows = await trx
    .deleteFrom('buyer_account')
    .where('storefront_id', '=', storefrontId)
    .where('sandbox', '=', true)
    .returning('account_id')
    .execute()
  return rows.map((row) => row.account_id)
}
