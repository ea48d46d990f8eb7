// The CLI's precompiled bundle, so that `storefront --help` and the REST client verbs start in about
// the time Node itself takes. Running TypeScript through tsx costs more than any of those verbs do: its
// loader hooks run in a second thread with esbuild loaded twice, and every module crosses to it.
//
// The bundle is src/cli/main.ts with what it imports from src/cli (and package.json), compiled by esbuild
// into one .mjs file in the checkout's own cache, node_modules/.cache/storefront-cli/<checkout>/, owned by
// whoever installed the project (never a shared temporary directory another user could plant a bundle in).
// The verbs that need the whole application (serve, migrate, keys: APPLICATION_ENTRIES) stay outside it,
// as absolute file URLs that commands.ts loads after registering tsx. A manifest lists every input (and
// package-lock.json, as the bundle's packages are absolute node_modules URLs) with its mtime and size;
// when one changed, or the builder did, the bundle is rebuilt (about a second), so editing src/cli never
// runs stale code. The cache is used only when each of its directories is a real directory (no symlink)
// owned by this user that nobody else may write, the manifest names a bundle by its content hash and the
// bundle's content still has that hash. Anything that goes wrong here (no esbuild, a read-only or foreign
// cache, a failed build) makes bin/storefront.js fall back to tsx: slower, never wrong.
// STOREFRONT_CLI_DEBUG=1 prints why.
import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const FORMAT = 2
/** A bundle is named by the first 16 hex digits of its content's sha256. */
const BUNDLE_NAME = /^[0-9a-f]{16}\.mjs$/
/** A bundle another process may be about to import is left alone by the cleanup for this long. */
const KEEP_RECENT_MS = 60_000
const ENTRY = 'src/cli/main.ts'
const LOCKFILE = 'package-lock.json'
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const builder = path.relative(root, fileURLToPath(import.meta.url))

/** Loaded through tsx by `withApplication` in src/cli/commands.ts, never bundled. */
export const APPLICATION_ENTRIES = ['src/cli/serve-command.ts', 'src/cli/admin-commands.ts']

/** What the bundle may contain; a static import of anything else from it is a build error. */
function bundled(file) {
  const relative = path.relative(root, file)
  return (relative.startsWith(`src${path.sep}cli${path.sep}`) && !APPLICATION_ENTRIES.includes(relative.split(path.sep).join('/')))
    || relative === path.join('src', 'shared', 'errors.ts')
    || relative === 'package.json'
}

/**
 * node_modules/.cache/storefront-cli/<first 16 hex digits of sha256(checkout)>/: one directory per checkout,
 * as several worktrees may share one node_modules.
 */
export function cacheDirectory() {
  let checkout = root
  try {
    checkout = realpathSync(root)
  } catch {
    // The checkout as this file sees it.
  }
  return path.join(root, 'node_modules', '.cache', 'storefront-cli', createHash('sha256').update(checkout).digest('hex').slice(0, 16))
}

function hashName(text) {
  return `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`
}

/**
 * Throws unless `directory` is a real directory (lstat: not a symlink) owned by this user (or, for
 * node_modules/.cache, by root) that neither its group nor others may write.
 */
function assertPrivate(directory, { rootMayOwn = false } = {}) {
  if (typeof process.getuid !== 'function') throw new Error('no user ids on this platform: the CLI bundle cache cannot be checked')
  const info = lstatSync(directory)
  if (info.isSymbolicLink() || !info.isDirectory()) throw new Error(`${directory} is not a directory`)
  const uid = process.getuid()
  if (info.uid !== uid && !(rootMayOwn && info.uid === 0)) throw new Error(`${directory} is owned by uid ${info.uid}, not ${uid}`)
  if ((info.mode & 0o022) !== 0) throw new Error(`${directory} may be written by its group or others (mode ${(info.mode & 0o777).toString(8)})`)
}

/** Creates the cache `directory` (0o700) if needed and checks it and its parents up to node_modules/.cache. */
function preparePrivate(directory) {
  const cache = path.join(root, 'node_modules', '.cache')
  const chain = []
  if (path.dirname(path.dirname(directory)) === cache) {
    mkdirSync(cache, { recursive: true })
    assertPrivate(cache, { rootMayOwn: true })
    chain.push(path.dirname(directory))
  }
  chain.push(directory)
  for (const level of chain) {
    try {
      mkdirSync(level, { mode: 0o700 })
    } catch (error) {
      if (error?.code !== 'EEXIST') throw error
    }
    assertPrivate(level)
  }
}

function fingerprint(relative) {
  const info = statSync(path.join(root, relative))
  return [relative, info.mtimeMs, info.size]
}

function isInput(entry) {
  return Array.isArray(entry) && entry.length === 3 && typeof entry[0] === 'string' && entry[0] !== ''
    && !path.isAbsolute(entry[0]) && !entry[0].split(/[\\/]/).includes('..')
    && typeof entry[1] === 'number' && typeof entry[2] === 'number'
}

/**
 * The bundle's file URL when the cached one matches every input and its own name; null otherwise. Never
 * a path the manifest makes up: the bundle is a content-hash name in `directory`, the inputs are files of
 * this checkout that include the entry point and the lockfile.
 */
function cached(directory) {
  let manifest
  try {
    manifest = JSON.parse(readFileSync(path.join(directory, 'manifest.json'), 'utf8'))
  } catch {
    return null
  }
  if (manifest?.format !== FORMAT || typeof manifest.bundle !== 'string' || !BUNDLE_NAME.test(manifest.bundle)) return null
  const { inputs } = manifest
  if (!Array.isArray(inputs) || !inputs.every(isInput)) return null
  const names = new Set(inputs.map(([relative]) => relative))
  if (!names.has(ENTRY) || !names.has(LOCKFILE) || !names.has(builder)) return null
  for (const [relative, mtimeMs, size] of inputs) {
    let now
    try {
      now = fingerprint(relative)
    } catch {
      return null
    }
    if (now[1] !== mtimeMs || now[2] !== size) return null
  }
  const file = path.join(directory, manifest.bundle)
  let text
  try {
    const info = lstatSync(file)
    if (!info.isFile()) return null
    text = readFileSync(file)
  } catch {
    return null
  }
  if (hashName(text) !== manifest.bundle) return null
  return pathToFileURL(file).href
}

/** Writes atomically: a reader sees the old file or the new one, never half of one. */
function writeAtomically(file, text) {
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, text, { mode: 0o600 })
  renameSync(temporary, file)
}

/** Builds the bundle into `directory`; returns its file URL and the inputs it was built from. */
export async function buildCliBundle(directory = cacheDirectory()) {
  preparePrivate(directory)
  const esbuild = await import('esbuild')
  // Packages resolve from here, bin/ of this checkout: the bundle itself lives in the cache directory.
  const external = (specifier) => ({ path: import.meta.resolve(specifier), external: true })
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/cli/main.ts'],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [{
      name: 'storefront-cli',
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) => {
          if (args.kind === 'entry-point') return undefined
          if (args.path.startsWith('node:')) return { path: args.path, external: true }
          if (!args.path.startsWith('.') && !path.isAbsolute(args.path)) return external(args.path)
          const file = path.resolve(args.resolveDir, args.path)
          if (bundled(file)) return undefined
          if (args.kind === 'dynamic-import') return { path: pathToFileURL(file).href, external: true }
          return { errors: [{ text: `${path.relative(root, args.importer)} imports ${path.relative(root, file)}, which is not part of the CLI bundle: import it dynamically, after withApplication() in src/cli/commands.ts` }] }
        })
      },
    }],
  })
  const text = result.outputFiles[0].text
  const name = hashName(text)
  // The lockfile: the bundle's packages are absolute node_modules URLs, which an install may move.
  const inputs = [...Object.keys(result.metafile.inputs), builder, LOCKFILE].map(fingerprint)
  writeAtomically(path.join(directory, name), text)
  writeAtomically(path.join(directory, 'manifest.json'), JSON.stringify({ format: FORMAT, bundle: name, inputs }))
  removeStale(directory, name)
  return { url: pathToFileURL(path.join(directory, name)).href, inputs: inputs.map(([relative]) => relative) }
}

/**
 * Earlier bundles of this checkout, and temporary files a crashed build left. Only regular files, and
 * none younger than a minute: another process may have just read the manifest that names one.
 */
function removeStale(directory, current) {
  const now = Date.now()
  for (const entry of readdirSync(directory)) {
    if (entry === current || !(BUNDLE_NAME.test(entry) || entry.endsWith('.tmp'))) continue
    const file = path.join(directory, entry)
    try {
      const info = lstatSync(file)
      if (info.isFile() && now - info.mtimeMs > KEEP_RECENT_MS) rmSync(file, { force: true })
    } catch {
      // Removed by another process meanwhile.
    }
  }
}

/**
 * After a bundle failed to load (a package it imports has moved): forgets it, so that the next start
 * rebuilds it instead of failing the same way.
 */
export function discardCliBundle(url, directory = cacheDirectory()) {
  try {
    const manifest = JSON.parse(readFileSync(path.join(directory, 'manifest.json'), 'utf8'))
    if (manifest?.bundle === path.basename(fileURLToPath(url))) rmSync(path.join(directory, 'manifest.json'), { force: true })
  } catch {
    // No manifest, or another one: nothing to forget.
  }
}

/** The bundle to import, built if needed; null when it cannot be had (bin/storefront.js then uses tsx). */
export async function cliBundle(directory = cacheDirectory()) {
  try {
    preparePrivate(directory)
    return cached(directory) ?? (await buildCliBundle(directory)).url
  } catch (error) {
    if (process.env.STOREFRONT_CLI_DEBUG) process.stderr.write(`storefront: CLI bundle unavailable, running through tsx: ${error?.stack ?? error}\n`)
    return null
  }
}
