#!/usr/bin/env node
// `storefront`: TypeScript without a build step. The CLI's own code runs from a cached esbuild bundle
// (bin/cli-bundle.js), so `--help` and the REST client verbs start about as fast as Node; the verbs that
// load the whole application register tsx first. Without a usable bundle (or with STOREFRONT_CLI_TSX=1)
// everything runs through tsx, as `npm start` and the tests do.
import process from 'node:process'
import { cliBundle, discardCliBundle } from './cli-bundle.js'

const bundle = process.env.STOREFRONT_CLI_TSX ? null : await cliBundle()
let loaded = false
if (bundle) {
  try {
    await import(bundle)
    loaded = true
  } catch (error) {
    // A package the bundle imports by its absolute node_modules URL has moved (an npm install since it
    // was built), or the bundle itself is gone: both fail while linking, before any of it ran, so tsx
    // can run the command instead. Anything else is the command's own failure.
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' && error?.code !== 'ENOENT') throw error
    if (process.env.STOREFRONT_CLI_DEBUG) process.stderr.write(`storefront: CLI bundle failed to load, running through tsx: ${error?.stack ?? error}\n`)
    discardCliBundle(bundle)
  }
}
if (!loaded) {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
