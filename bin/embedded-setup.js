#!/usr/bin/env node
// The embedded database's set-up process (src/db/embedded-setup-process.ts), forked by
// src/db/embedded-setup.ts: from the application's bundle, like bin/storefront.js, or through tsx.
import { runEntry } from './bundle.js'

await runEntry('embedded-setup')
