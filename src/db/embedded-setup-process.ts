/**
 * The set-up process of the embedded database (embedded-setup.ts): opens PGlite in the directory it
 * is given (running initdb when it holds no database), applies the pending migrations, closes it and
 * reports over its IPC channel. Run only by setUpInChildProcess, whose process owns the directory.
 *
 *   node bin/embedded-setup.js <pglite dir> [<migrations dir>]
 */
import { openDatabase } from './database.ts'
import type { SetUpReport } from './embedded-setup.ts'
import { loadMigrations, migrate } from './migrate.ts'

// The parent owns the directory only while it waits for this process: without it, stop at once.
process.on('disconnect', () => process.exit(1))

function report(message: SetUpReport, exitCode: number): void {
  if (!process.send) {
    console.error('embedded-setup-process.ts is run by storefront serve and storefront migrate, not by hand')
    process.exit(2)
  }
  process.send(message, () => process.exit(exitCode))
}

const [dir, migrationsDir] = process.argv.slice(2)
try {
  if (!dir) throw new Error('no data directory given')
  const migrations = await loadMigrations(migrationsDir)
  const handle = await openDatabase({ dataDir: dir })
  let applied: string[]
  try {
    ;({ applied } = await migrate(handle.db, migrations))
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw error
  }
  // Closed before reporting: the parent opens the directory as soon as it hears back.
  await handle.close()
  report({ applied }, 0)
} catch (error) {
  report({ error: error instanceof Error ? error.message : String(error) }, 1)
}
