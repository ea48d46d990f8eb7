#!/usr/bin/env node
// `storefront`: TypeScript without a build step. The application runs from a cached esbuild bundle
// (bin/bundle.js), so `--help` starts about as fast as Node and `serve` without tsx's loader; without a
// usable bundle (or with STOREFRONT_CLI_TSX=1) it runs through tsx, as the tests do.
import { runEntry } from './bundle.js'

await runEntry('cli')
