import { createHash, randomBytes } from 'node:crypto'
import { constants, readFileSync } from 'node:fs'
import { copyFile, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { privateCacheDirectory } from '../../bin/bundle.js'
import { pglitePackageDirectory, pgliteStartParams } from './embedded-pglite.ts'

/**
 * The embedded database's template: a data directory that was set up (initdb and every migration) and
 * closed, kept in the checkout's private cache so that the next fresh data directory starts as a copy
 * of it. initdb alone takes ~2.5 s of PostgreSQL's bootstrap inside WebAssembly, more than the whole
 * start of a server on an existing directory; a copy of its 41 MB takes a tenth of a second. `npm
 * install` makes the first one (bin/prepare.js), like a Debian package that creates its cluster.
 *
 * A template is named by what made it: PGlite's version, its start parameters and every migration's name
 * and SQL, so an upgrade or a new migration makes a new one and a template is never migrated. It holds
 * no secret and nothing of a storefront: the migrations create the schema only (a data directory's keys
 * live beside its `pglite` directory). Copies share PostgreSQL's system identifier, which only
 * replication reads, and PGlite has none. It lives where the application's bundle does
 * (bin/bundle.js): a directory of this user that nobody else may write, as a planted template would be
 * a planted database.
 */

/** Templates a newer one replaced are removed once this old: another process may be copying one. */
const KEEP_RECENT_MS = 60_000
const TEMPLATE_NAME = /^[0-9a-f]{16}$/
/** Files copied at once: creating its ~1,200 small files one after the other is most of a copy's time. */
const COPY_CONCURRENCY = 16

function pgliteVersion(): string {
  return (JSON.parse(readFileSync(path.join(pglitePackageDirectory(), 'package.json'), 'utf8')) as { version: string }).version
}

/** The name of the template the application's `migrations` make with this PGlite. */
export function templateName(migrations: readonly { name: string; sql: string }[]): string {
  const hash = createHash('sha256').update(`pglite ${pgliteVersion()}\0${pgliteStartParams.join(' ')}\0`)
  for (const migration of migrations) hash.update(`${migration.name}\0${migration.sql.length}\0`).update(migration.sql)
  return hash.digest('hex').slice(0, 16)
}

/**
 * The templates' directory in the checkout's private cache, or null when the cache is not usable (then:
 * no template, initdb as before). copyTemplate and saveTemplate take another (tests).
 */
function templatesDirectory(): string | null {
  try {
    return privateCacheDirectory('pglite-templates')
  } catch {
    return null
  }
}

async function isTemplate(directory: string): Promise<boolean> {
  try {
    const info = await lstat(directory)
    return info.isDirectory() && !info.isSymbolicLink() && (await lstat(path.join(directory, 'PG_VERSION'))).isFile()
  } catch {
    return false
  }
}

/**
 * Copies the data directory `from` to `to`, which must not exist: its directories first, then its
 * files, COPY_CONCURRENCY at a time (a copy-on-write clone where the file system has them). fs.cp copies
 * one entry after the other, which took 1.7-2.4 s here against 0.7-1.1 s for this; a data directory
 * holds regular files and directories only, and anything else is refused.
 */
async function copyDataDirectory(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { recursive: true, withFileTypes: true })
  const relative = (entry: (typeof entries)[number]) => path.relative(from, path.join(entry.parentPath, entry.name))
  const strange = entries.find((entry) => !entry.isDirectory() && !entry.isFile())
  if (strange) throw new Error(`${path.join(from, relative(strange))} is neither a file nor a directory`)
  await mkdir(to, { mode: 0o700 })
  // Parents before children: readdir lists a directory before what it holds.
  for (const entry of entries) if (entry.isDirectory()) await mkdir(path.join(to, relative(entry)), { mode: 0o700 })
  const files = entries.filter((entry) => entry.isFile()).map(relative)
  let next = 0
  const copyNext = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++]!
      await copyFile(path.join(from, file), path.join(to, file), constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE)
    }
  }
  await Promise.all(Array.from({ length: COPY_CONCURRENCY }, copyNext))
}

/**
 * Copies the template `name` to `to` (which must not exist); false, with nothing left at `to`, when
 * there is none or the copy failed (a newer install removed it meanwhile, a full disk): the caller
 * then sets the directory up from scratch.
 */
export async function copyTemplate(name: string, to: string, templates: string | null = templatesDirectory()): Promise<boolean> {
  if (!templates) return false
  const template = path.join(templates, name)
  if (!(await isTemplate(template))) return false
  try {
    await copyDataDirectory(template, to)
    return true
  } catch {
    await rm(to, { recursive: true, force: true })
    return false
  }
}

/**
 * Keeps a copy of the closed, set-up data directory `from` as the template `name`, unless there is one.
 * Written beside its place and renamed in, so a template is whole or absent. A failure here costs the
 * next fresh start its initdb, nothing else: it is not an error of the start that set up `from`.
 */
export async function saveTemplate(name: string, from: string, templates: string | null = templatesDirectory()): Promise<void> {
  if (!templates) return
  const template = path.join(templates, name)
  if (await isTemplate(template)) return
  const partial = path.join(templates, `${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await copyDataDirectory(from, partial)
    await rename(partial, template)
  } catch {
    // Another process saved the same template meanwhile, or the disk is full: either way, no template here.
  } finally {
    await rm(partial, { recursive: true, force: true })
  }
  await removeReplaced(templates, name)
}

/** Templates of earlier versions or migrations, and copies a crashed save left. */
async function removeReplaced(templates: string, current: string): Promise<void> {
  const now = Date.now()
  for (const entry of await readdir(templates).catch(() => [])) {
    if (entry === current || !(TEMPLATE_NAME.test(entry) || entry.endsWith('.tmp'))) continue
    const where = path.join(templates, entry)
    const info = await lstat(where).catch(() => null)
    if (info?.isDirectory() && now - info.mtimeMs > KEEP_RECENT_MS) await rm(where, { recursive: true, force: true })
  }
}
