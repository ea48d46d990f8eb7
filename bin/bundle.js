// The application's precompiled bundle, so that `storefront serve` and `npm start` run JavaScript, not
// TypeScript through tsx, and `storefront --help` starts in about the time Node itself takes. tsx runs
// its loader hooks in a second thread with esbuild loaded twice, every module crosses to it, and it keeps
// each module's transpiled text: on an embedded server that is ~70 MiB of resident memory and ~0.7 s of
// start-up (BENCHMARKS.md, "Embedded startup and memory").
//
// The bundle is the application from two entry points, src/cli/main.ts (the CLI, `serve` included) and
// src/db/embedded-setup-process.ts (the embedded database's set-up process), compiled by esbuild with code
// splitting: what a verb imports dynamically (the server behind `serve`, the AdCP SDK behind `/mcp`) is
// its own chunk, loaded only when that verb or route runs, so `--help` loads little more than src/cli.
// Packages stay outside it, imported by their absolute node_modules URLs. Each source file keeps its own
// `import.meta` (its file URL and directory), so the migrations, the console's views and the Cadent XSD
// are found beside the sources as under tsx.
//
// It lives in the checkout's own cache, node_modules/.cache/storefront/<checkout>/<content hash>/, owned
// by whoever installed the project (never a shared temporary directory another user could plant a bundle
// in); `npm install` builds it (the `prepare` script), and any start rebuilds it when it is missing or
// stale (about a second). A manifest lists every input (and package-lock.json, as packages are absolute
// URLs) with its mtime and size; when one changed, or the builder did, the bundle is rebuilt, so editing
// src never runs stale code. The cache is used only when each of its directories is a real directory (no
// symlink) owned by this user that nobody else may write, the manifest names a bundle directory by the
// hash of its content and that directory still holds exactly those files with that content. Anything that
// goes wrong here (no esbuild, a read-only or foreign cache, a failed build) makes bin/storefront.js fall
// back to tsx: slower, never wrong. STOREFRONT_CLI_DEBUG=1 prints why; STOREFRONT_CLI_TSX=1 always uses tsx.
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const FORMAT = 3
/** A bundle is a directory named by the first 16 hex digits of its content's sha256. */
const BUNDLE_NAME = /^[0-9a-f]{16}$/
/** What esbuild names the files of a bundle: the entry points and `chunk-<hash>.mjs`. */
const FILE_NAME = /^[A-Za-z0-9_-]{1,64}\.mjs$/
/** A bundle another process may be about to import is left alone by the cleanup for this long. */
const KEEP_RECENT_MS = 60_000
/** The entry points, by the name of their file in the bundle. */
export const ENTRIES = { cli: 'src/cli/main.ts', 'embedded-setup': 'src/db/embedded-setup-process.ts' }
const LOCKFILE = 'package-lock.json'
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const builder = path.relative(root, fileURLToPath(import.meta.url))
const sources = path.join(root, 'src') + path.sep

/**
 * node_modules/.cache/storefront/<first 16 hex digits of sha256(checkout)>/: one directory per checkout,
 * as several worktrees may share one node_modules.
 */
export function cacheDirectory() {
  let checkout = root
  try {
    checkout = realpathSync(root)
  } catch {
    // The checkout as this file sees it.
  }
  return path.join(root, 'node_modules', '.cache', 'storefront', createHash('sha256').update(checkout).digest('hex').slice(0, 16))
}

/**
 * `name` in this checkout's private cache (cacheDirectory()), created (0o700) if missing: for what else
 * is kept there, such as the embedded database's template (src/db/embedded-template.ts). Throws unless it
 * and every level above it up to node_modules/.cache is a real directory of this user nobody else may write.
 */
export function privateCacheDirectory(name) {
  if (!/^[a-z][a-z0-9-]{0,63}$/.test(name) || BUNDLE_NAME.test(name)) throw new Error(`not a cache name: ${name}`)
  const directory = path.join(cacheDirectory(), name)
  preparePrivate(directory)
  return directory
}

/** The name of a bundle of `files` ([name, text] pairs): its names and contents, hashed in name order. */
function bundleName(files) {
  const hash = createHash('sha256')
  for (const [name, text] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(`${name}\0${text.length}\0`).update(text)
  return hash.digest('hex').slice(0, 16)
}

/**
 * Throws unless `directory` is a real directory (lstat: not a symlink) owned by this user (or, for
 * node_modules/.cache, by root) that neither its group nor others may write.
 */
function assertPrivate(directory, { rootMayOwn = false } = {}) {
  if (typeof process.getuid !== 'function') throw new Error('no user ids on this platform: the bundle cache cannot be checked')
  const info = lstatSync(directory)
  if (info.isSymbolicLink() || !info.isDirectory()) throw new Error(`${directory} is not a directory`)
  const uid = process.getuid()
  if (info.uid !== uid && !(rootMayOwn && info.uid === 0)) throw new Error(`${directory} is owned by uid ${info.uid}, not ${uid}`)
  if ((info.mode & 0o022) !== 0) throw new Error(`${directory} may be written by its group or others (mode ${(info.mode & 0o777).toString(8)})`)
}

/**
 * Creates `directory` (0o700) if needed and checks it; inside node_modules/.cache, every level from there
 * down to it as well (node_modules/.cache itself may be root's).
 */
function preparePrivate(directory) {
  const cache = path.join(root, 'node_modules', '.cache')
  const below = path.relative(cache, directory)
  const chain = []
  if (below !== '' && !below.startsWith('..') && !path.isAbsolute(below)) {
    mkdirSync(cache, { recursive: true })
    assertPrivate(cache, { rootMayOwn: true })
    let level = cache
    for (const part of below.split(path.sep)) chain.push((level = path.join(level, part)))
  } else {
    chain.push(directory)
  }
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
 * The cached bundle's directory when it matches every input and its own name; null otherwise. Never a
 * path the manifest makes up: the bundle is a content-hash name in `directory` holding exactly the files
 * the manifest lists (esbuild's names, each entry point among them), and the inputs are files of this
 * checkout that include every entry point, the builder and the lockfile.
 */
function cached(directory) {
  let manifest
  try {
    manifest = JSON.parse(readFileSync(path.join(directory, 'manifest.json'), 'utf8'))
  } catch {
    return null
  }
  if (manifest?.format !== FORMAT || typeof manifest.bundle !== 'string' || !BUNDLE_NAME.test(manifest.bundle)) return null
  const { inputs, files } = manifest
  if (!Array.isArray(inputs) || !inputs.every(isInput)) return null
  if (!Array.isArray(files) || !files.every((name) => typeof name === 'string' && FILE_NAME.test(name))) return null
  if (!Object.keys(ENTRIES).every((entry) => files.includes(`${entry}.mjs`))) return null
  const names = new Set(inputs.map(([relative]) => relative))
  if (!Object.values(ENTRIES).every((entry) => names.has(entry)) || !names.has(LOCKFILE) || !names.has(builder)) return null
  for (const [relative, mtimeMs, size] of inputs) {
    let now
    try {
      now = fingerprint(relative)
    } catch {
      return null
    }
    if (now[1] !== mtimeMs || now[2] !== size) return null
  }
  const bundle = path.join(directory, manifest.bundle)
  return holds(bundle, manifest.bundle, files) ? bundle : null
}

/**
 * Whether `bundle` is a real directory holding exactly the files named `files`, whose content hashes to
 * `name`.
 */
function holds(bundle, name, files) {
  const contents = []
  try {
    const info = lstatSync(bundle)
    if (info.isSymbolicLink() || !info.isDirectory()) return false
    const held = readdirSync(bundle).sort()
    const expected = [...files].sort()
    if (held.length !== expected.length || held.some((file, i) => file !== expected[i])) return false
    for (const file of held) {
      const where = path.join(bundle, file)
      if (!lstatSync(where).isFile()) return false
      contents.push([file, readFileSync(where)])
    }
  } catch {
    return false
  }
  return bundleName(contents) === name
}

/** Writes atomically: a reader sees the old file or the new one, never half of one. */
function writeAtomically(file, text) {
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, text, { mode: 0o600 })
  renameSync(temporary, file)
}

/**
 * Every source file keeps its own `import.meta`: its URL and directory are those of the file in src, as
 * they are under tsx; `resolve` resolves a relative specifier from it and a package from the bundle,
 * which lives inside the checkout's node_modules.
 */
function ownImportMeta(file, text) {
  if (!text.includes('import.meta')) return text
  const url = pathToFileURL(file).href
  const meta = `({ url: ${JSON.stringify(url)}, dirname: ${JSON.stringify(path.dirname(file))}, filename: ${JSON.stringify(file)}, `
    + `resolve: (specifier) => /^\\.{1,2}\\//.test(specifier) ? new URL(specifier, ${JSON.stringify(url)}).href : import.meta.resolve(specifier) })`
  return text.replace(/\bimport\.meta\b/g, meta)
}

/** Builds the bundle into `directory`; returns the bundle's directory and the inputs it was built from. */
export async function buildBundle(directory = cacheDirectory()) {
  preparePrivate(directory)
  const esbuild = await import('esbuild')
  const started = Date.now()
  // Packages resolve from here, bin/ of this checkout: the bundle itself lives in the cache directory.
  const external = (specifier) => ({ path: import.meta.resolve(specifier), external: true })
  const outdir = path.join(directory, 'out')
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES)),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [{
      name: 'storefront',
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) => {
          if (args.kind === 'entry-point') return undefined
          if (args.path.startsWith('node:')) return { path: args.path, external: true }
          if (!args.path.startsWith('.') && !path.isAbsolute(args.path)) return external(args.path)
          const file = path.resolve(args.resolveDir, args.path)
          if (file.startsWith(sources) || path.relative(root, file) === 'package.json') return undefined
          // This file, imported by src for its private cache: loaded as it is, so that it finds the checkout.
          if (file === fileURLToPath(import.meta.url)) return { path: import.meta.url, external: true }
          return { errors: [{ text: `${path.relative(root, args.importer)} imports ${path.relative(root, file)}, which is outside src/` }] }
        })
        build.onLoad({ filter: /\.ts$/ }, async (args) => ({ contents: ownImportMeta(args.path, await readFile(args.path, 'utf8')), loader: 'ts' }))
      },
    }],
  })
  const files = result.outputFiles.map((output) => [path.relative(outdir, output.path), Buffer.from(output.contents)])
  if (!files.every(([name]) => FILE_NAME.test(name))) throw new Error(`esbuild wrote unexpected files: ${files.map(([name]) => name).join(', ')}`)
  const name = bundleName(files)
  // The lockfile: the bundle's packages are absolute node_modules URLs, which an install may move.
  const inputs = [...Object.keys(result.metafile.inputs), builder, LOCKFILE].map(fingerprint)
  const bundle = path.join(directory, name)
  const names = files.map(([file]) => file)
  if (!holds(bundle, name, names)) {
    // Written whole beside its place, then renamed in: a reader sees no bundle or all of it.
    const temporary = path.join(directory, `${name}.${process.pid}.tmp`)
    rmSync(temporary, { recursive: true, force: true })
    mkdirSync(temporary, { mode: 0o700 })
    for (const [file, text] of files) writeFileSync(path.join(temporary, file), text, { mode: 0o600 })
    try {
      renameSync(temporary, bundle)
    } catch (error) {
      if (error?.code !== 'ENOTEMPTY' && error?.code !== 'EEXIST') throw error
      if (holds(bundle, name, names)) {
        // Another process built the same bundle meanwhile.
        rmSync(temporary, { recursive: true, force: true })
      } else {
        // A directory of that name that is not this bundle: replaced, never used.
        rmSync(bundle, { recursive: true, force: true })
        renameSync(temporary, bundle)
      }
    }
  }
  // An input written while esbuild ran may be newer than what it read: this start uses the bundle, but
  // no manifest vouches for it, so the next start builds again (as does every start while a file's
  // mtime is in the future, e.g. unpacked from a machine whose clock is ahead: slower, never stale).
  const current = inputs.every(([, mtimeMs]) => mtimeMs < started)
  if (current) writeAtomically(path.join(directory, 'manifest.json'), JSON.stringify({ format: FORMAT, bundle: name, files: names, inputs }))
  removeStale(directory, name)
  return { directory: bundle, inputs: inputs.map(([relative]) => relative), current }
}

/**
 * Earlier bundles of this checkout, and temporary files a crashed build left. Only bundle-named entries,
 * and none younger than a minute: another process may have just read the manifest that names one.
 */
function removeStale(directory, current) {
  const now = Date.now()
  for (const entry of readdirSync(directory)) {
    if (entry === current || !(BUNDLE_NAME.test(entry) || entry.endsWith('.tmp'))) continue
    const file = path.join(directory, entry)
    try {
      const info = lstatSync(file)
      if ((info.isFile() || info.isDirectory()) && now - info.mtimeMs > KEEP_RECENT_MS) rmSync(file, { recursive: true, force: true })
    } catch {
      // Removed by another process meanwhile.
    }
  }
}

/**
 * After a bundle failed to load (a package it imports has moved): forgets it, so that the next start
 * rebuilds it instead of failing the same way.
 */
export function discardBundle(bundle, directory = cacheDirectory()) {
  try {
    const manifest = JSON.parse(readFileSync(path.join(directory, 'manifest.json'), 'utf8'))
    if (manifest?.bundle === path.basename(bundle)) rmSync(path.join(directory, 'manifest.json'), { force: true })
  } catch {
    // No manifest, or another one: nothing to forget.
  }
}

/** The bundle's directory (default cache), built if needed; null when it cannot be had (then: tsx). */
export async function currentBundle(directory = cacheDirectory()) {
  try {
    preparePrivate(directory)
    return cached(directory) ?? (await buildBundle(directory)).directory
  } catch (error) {
    if (process.env.STOREFRONT_CLI_DEBUG) process.stderr.write(`storefront: bundle unavailable, running through tsx: ${error?.stack ?? error}\n`)
    return null
  }
}

/**
 * Runs the entry point `entry` (a key of ENTRIES) from the bundle, or its TypeScript source through tsx
 * when there is no usable bundle or STOREFRONT_CLI_TSX is set.
 */
export async function runEntry(entry) {
  const bundle = process.env.STOREFRONT_CLI_TSX ? null : await currentBundle()
  if (bundle) {
    try {
      await import(pathToFileURL(path.join(bundle, `${entry}.mjs`)).href)
      return
    } catch (error) {
      // A package the bundle imports by its absolute node_modules URL has moved (an npm install since it
      // was built), or the bundle itself is gone: both fail while linking, before any of it ran, so tsx
      // can run the command instead. Anything else is the command's own failure.
      if (error?.code !== 'ERR_MODULE_NOT_FOUND' && error?.code !== 'ENOENT') throw error
      if (process.env.STOREFRONT_CLI_DEBUG) process.stderr.write(`storefront: bundle failed to load, running through tsx: ${error?.stack ?? error}\n`)
      discardBundle(bundle)
    }
  }
  const { register } = await import('tsx/esm/api')
  register()
  await import(pathToFileURL(path.join(root, ENTRIES[entry])).href)
}
