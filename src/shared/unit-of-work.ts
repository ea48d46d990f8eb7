import { AsyncLocalStorage } from 'node:async_hooks'
import type { Database, Transaction } from '../db/database.ts'

/**
 * What a request asks of the transaction that decides its outcome. The HTTP layer opens one per
 * request with an Idempotency-Key: `beforeCommit` writes the answer into the same transaction,
 * so either the change and its stored answer commit together or neither does.
 */
export interface UnitOfWork {
  /** Runs inside the outcome transaction with its result, before COMMIT; throwing rolls it back. */
  beforeCommit(trx: Transaction, result: unknown): Promise<void>
  /** The outcome transaction failed, COMMIT included: whatever `beforeCommit` wrote is gone. */
  rolledBack(): void
}

const units = new AsyncLocalStorage<UnitOfWork>()

/** Runs `work` (and everything it awaits) as the given unit of work. */
export function runInUnitOfWork<T>(unit: UnitOfWork, work: () => T): T {
  return units.run(unit, work)
}

/**
 * The transaction whose result is the answer to the request (a workflow's outermost, last
 * transaction). Without a unit of work it is a plain transaction. Steps before it (a staging
 * batch, the transaction before a slow upstream call) use `db.transaction()` as usual.
 */
export async function outcomeTransaction<T>(db: Database, work: (trx: Transaction) => Promise<T>): Promise<T> {
  const unit = units.getStore()
  if (!unit) return db.transaction().execute(work)
  try {
    return await db.transaction().execute(async (trx) => {
      // Only the outermost outcome: a nested call would record a partial answer.
      const result = await units.exit(() => work(trx))
      await unit.beforeCommit(trx, result)
      return result
    })
  } catch (error) {
    unit.rolledBack()
    throw error
  }
}

/**
 * Like `outcomeTransaction`, for workflows whose steps are each atomic on their own and skip
 * BEGIN/COMMIT for speed: they get a transaction only when an answer must be recorded with them.
 */
export async function outcomeTransactionWhenRecorded<T>(db: Database, work: (trx: Transaction | undefined) => Promise<T>): Promise<T> {
  if (!units.getStore()) return work(undefined)
  return outcomeTransaction(db, work)
}
