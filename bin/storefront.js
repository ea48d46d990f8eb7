#!/usr/bin/env node
// `storefront`: TypeScript without a build step. The CLI's own code runs from a cached esbuild bundle
// (bin/cli-bundle.js), so `--help` and the REST client verbs start about as fast as Node; the verbs that
// load the whole application register tsx first. Without a usable bundle (or with STOREFRONT_CLI_TSX=1)
// everything runs through tsx, as `npm start` and the tests do.
import process from 'node:process'
import { cliBundle } from './cli-bundle.js'

const bundle = process.env.STOREFRONT_CLI_TSX ? null : await cliBundle()
if (bundle) {
  await import(bundle)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
