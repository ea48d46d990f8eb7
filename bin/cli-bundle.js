// The CLI's precompiled bundle, so that `storefront --help` and the REST client verbs start in about
// the time Node itself takes. Running TypeScript through tsx costs more than any of those verbs do: its
// loader hooks run in a second thread with esbuild loaded twice, and every module crosses to it.
//
// The bundle is src/cli/main.ts with what it imports from src/cli (and package.json), compiled by esbuild
// into one .mjs file in a per-user cache directory. The verbs that need the whole application (serve,
// migrate, keys: APPLICATION_ENTRIES) stay outside it, as absolute file URLs that commands.ts loads
// after registering tsx. A manifest lists every input with its mtime and size; when one changed, or the
// builder did, the bundle is rebuilt (about a second), so editing src/cli never runs stale code.
// Anything that goes wrong here (no esbuild, a read-only cache, a failed build) makes bin/storefront.js
// fall back to tsx: slower, never wrong. STOREFRONT_CLI_DEBUG=1 prints why.
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const FORMAT = 1
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

export function cacheDirectory() {
  const user = typeof process.getuid === 'function' ? process.getuid() : os.userInfo().username
  return path.join(os.tmpdir(), `storefront-cli-${user}`, createHash('sha256').update(root).digest('hex').slice(0, 16))
}

function fingerprint(relative) {
  const info = statSync(path.join(root, relative))
  return [relative, info.mtimeMs, info.size]
}

/** The bundle's file URL when the cached one matches every input; null otherwise. */
function cached(directory) {
  let manifest
  try {
    manifest = JSON.parse(readFileSync(path.join(directory, 'manifest.json'), 'utf8'))
  } catch {
    return null
  }
  if (manifest.format !== FORMAT || !Array.isArray(manifest.inputs)) return null
  for (const [relative, mtimeMs, size] of manifest.inputs) {
    let now
    try {
      now = fingerprint(relative)
    } catch {
      return null
    }
    if (now[1] !== mtimeMs || now[2] !== size) return null
  }
  return pathToFileURL(path.join(directory, manifest.bundle)).href
}

/** Writes atomically: a reader sees the old file or the new one, never half of one. */
function writeAtomically(file, text) {
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, text, { mode: 0o600 })
  renameSync(temporary, file)
}

/** Builds the bundle into `directory`; returns its file URL and the inputs it was built from. */
export async function buildCliBundle(directory = cacheDirectory()) {
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
  const name = `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`
  const inputs = [...Object.keys(result.metafile.inputs), builder].map(fingerprint)
  mkdirSync(directory, { recursive: true, mode: 0o700 })
  writeAtomically(path.join(directory, name), text)
  writeAtomically(path.join(directory, 'manifest.json'), JSON.stringify({ format: FORMAT, bundle: name, inputs }))
  // Earlier bundles of this checkout; one a process has just imported is already read.
  for (const entry of readdirSync(directory)) if (entry.endsWith('.mjs') && entry !== name) rmSync(path.join(directory, entry), { force: true })
  return { url: pathToFileURL(path.join(directory, name)).href, inputs: inputs.map(([relative]) => relative) }
}

/** The bundle to import, built if needed; null when it cannot be had (bin/storefront.js then uses tsx). */
export async function cliBundle() {
  try {
    const directory = cacheDirectory()
    return cached(directory) ?? (await buildCliBundle(directory)).url
  } catch (error) {
    if (process.env.STOREFRONT_CLI_DEBUG) process.stderr.write(`storefront: CLI bundle unavailable, running through tsx: ${error?.stack ?? error}\n`)
    return null
  }
}
