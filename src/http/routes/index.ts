import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Services } from '../../services.ts'
import { availsFeedRoutes } from './avails-feed.ts'
import { executionRoutes } from './execution.ts'
import { inventorySourceRoutes } from './inventory-sources.ts'
import { ledgerRoutes } from './ledger.ts'
import { liveEventRoutes } from './live-events.ts'
import { mediaBuyRoutes } from './media-buys.ts'
import { modularRoutes } from './modular.ts'
import { sandboxRoutes } from './sandbox.ts'
import { workItemRoutes } from './work-items.ts'

/**
 * Every storefront route, all under /api/v2/storefront and behind the API key.
 * A new route family is one more line here.
 */
export const storefrontRoutes: FastifyPluginAsyncZod<{
  services: Services
  feedBodyLimitBytes?: number | undefined
  feedMaxConcurrent?: number | undefined
  liveEventsHeartbeatMs?: number | undefined
}> = async (app, opts) => {
  await app.register(inventorySourceRoutes, opts)
  await app.register(ledgerRoutes, opts)
  await app.register(modularRoutes, opts)
  await app.register(workItemRoutes, opts)
  await app.register(liveEventRoutes, { services: opts.services, heartbeatMs: opts.liveEventsHeartbeatMs })
  await app.register(executionRoutes, opts)
  await app.register(availsFeedRoutes, opts)
  await app.register(sandboxRoutes, opts)
  await app.register(mediaBuyRoutes, opts)
}
