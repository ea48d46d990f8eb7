import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'

/**
 * How the embedded database is started: PGlite's defaults plus memory settings for one process that
 * serves one storefront. PGlite runs PostgreSQL inside a WebAssembly heap that grows and never
 * shrinks (it starts at 128 MiB). With PostgreSQL's 128 MB of shared buffers that heap grows to
 * ~190 MiB at the first start and every buffer page a large feed touches stays resident; 16 MB keeps
 * it within its initial size. Pages that fall out are reread through the operating system's file
 * cache (PGlite's data directory is a real directory). maintenance_work_mem bounds what a
 * CREATE INDEX in a migration takes from that heap.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '16MB',
  maintenance_work_mem: '16MB',
}

export const pgliteStartParams: readonly string[] = [
  ...PGlite.defaultStartParams,
  ...Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
]

let compiledModule: Promise<WebAssembly.Module> | null = null

/** The directory of PGlite's package.json (its exports do not list that file). */
export function pglitePackageDirectory(): string {
  // The package's entry is dist/index.cjs (or .js): its package is one level up.
  return path.dirname(path.dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')))
}

/**
 * PostgreSQL's WebAssembly, compiled once per process: setting a fresh data directory up opens PGlite
 * twice (initdb's scratch instance and the instance that migrates), a start after an upgrade twice in
 * the server (to find what is pending, then to serve), and compiling 9 MB of WebAssembly is most of
 * what opening costs. Instances share the compiled code.
 */
export function pgliteWasmModule(): Promise<WebAssembly.Module> {
  compiledModule ??= (async () => {
    return WebAssembly.compile(await readFile(path.join(pglitePackageDirectory(), 'dist', 'pglite.wasm')))
  })()
  return compiledModule
}

/** Opens (running initdb if the directory is empty) PGlite in dataDir with the settings above. */
export async function createPglite(dataDir: string): Promise<PGlite> {
  return PGlite.create({ dataDir, startParams: [...pgliteStartParams], pgliteWasmModule: await pgliteWasmModule() })
}
