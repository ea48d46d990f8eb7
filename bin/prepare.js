#!/usr/bin/env node
// `npm install`'s prepare step: builds the application's bundle (bin/bundle.js) and the embedded
// database's template (src/db/embedded-template.ts) into the checkout's cache, so that the first
// `npm start` runs neither esbuild nor initdb. It never fails the install: whatever it could not make, the
// first start makes (slower, never wrong).
import { spawnSync } from 'node:child_process'
import console from 'node:console'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import process from 'node:process'
import { fileURLToPath, URL } from 'node:url'
import { currentBundle } from './bundle.js'

const began = performance.now()
// Where the CLI's own bundle was cached before the whole application was bundled: nothing reads it now.
rmSync(fileURLToPath(new URL('../node_modules/.cache/storefront-cli', import.meta.url)), { recursive: true, force: true })
const seconds = () => ((performance.now() - began) / 1000).toFixed(1)
if (!(await currentBundle())) {
  console.warn('storefront: the application bundle could not be built; npm start will run through tsx (STOREFRONT_CLI_DEBUG=1 says why)')
} else {
  // `storefront migrate` on a throwaway data directory sets a database up and keeps it as the template.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'storefront-prepare-'))
  try {
    const env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' }
    delete env.DATABASE_URL
    const storefront = fileURLToPath(new URL('./storefront.js', import.meta.url))
    const { status, stderr } = spawnSync(process.execPath, [storefront, 'migrate'], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
    if (status === 0) console.log(`storefront: built the application bundle and the embedded database's template in ${seconds()} s`)
    else console.warn(`storefront: the embedded database's template could not be made; the first npm start runs initdb:\n${stderr.trim()}`)
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}
