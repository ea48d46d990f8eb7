import { createAccessService } from './access/access-service.ts'
import type { Database, Engine } from './db/database.ts'
import type { Notifications } from './db/notifications.ts'
import { assertSchemaCurrent, loadMigrations, type Migration } from './db/migrate.ts'
import { sqlPoolOf } from './db/sql-pool.ts'
import { createIdempotencyStore } from './idempotency/idempotency-store.ts'
import { createBuyerWebhooks, createWebhookOutbox, type WebhookSigningKey } from './modules/buyer-webhooks/index.ts'
import { createLedgerService } from './modules/booking-ledger/index.ts'
import { createLiveEvents } from './modules/live-events/index.ts'
import type { Clock } from './shared/clock.ts'
import type { SecretBox } from './shared/secret-box.ts'
import type { AgentProbe } from './sources/agent-probe.ts'
import { createSourceService } from './sources/source-service.ts'
import { createTenantManagementClient } from './sources/tenant-management-client.ts'
import { createSourceCallRecorder, recordingUpstreamClient } from './sources/source-call-recorder.ts'
import { createUpstreamAgentClient } from './sources/upstream-agent-client.ts'
import { commitAvailsPreview, createAvailsFeedWorkflows } from './workflows/avails-feed-workflows.ts'
import { createBuyerDeliveryWorkflows } from './workflows/buyer-delivery-workflows.ts'
import { createBuyerWorkflows } from './workflows/buyer-workflows.ts'
import { createCreativeWorkflows } from './workflows/creative-workflows.ts'
import { createExecutionWorkflows } from './workflows/execution-workflows.ts'
import { createFlightWorkflows } from './workflows/flight-workflows.ts'
import { createHoldConsequences } from './workflows/hold-consequences.ts'
import { createLedgerWorkflows } from './workflows/ledger-workflows.ts'
import { createMediaBuyWorkflows } from './workflows/media-buy-workflows.ts'
import { createModularSourceWorkflows } from './workflows/modular-source-workflows.ts'
import { createSandboxWorkflows } from './workflows/sandbox-workflows.ts'
import { createSourceDiagnosticsWorkflows } from './workflows/source-diagnostics-workflows.ts'
import { createSourceStatusWorkflows } from './workflows/source-status-workflows.ts'
import { createSourceWorkflows } from './workflows/source-workflows.ts'
import { createUpstreamSupplyWorkflows } from './workflows/upstream-supply-workflows.ts'
import { createWorkItemWorkflows } from './workflows/work-item-workflows.ts'

export interface ServiceDeps {
  db: Database
  engine: Engine
  /** The database's NOTIFY of committed transactions (DatabaseHandle.notifications): the live-events feed. */
  notifications: Notifications
  /** Live-event subscribers one process serves at once; default 1000. */
  liveEventsMaxSubscribers?: number | undefined
  clock: Clock
  secrets: SecretBox
  probeAgent: AgentProbe
  /** The AdCP agent's webhook signing key; null or absent: the agent accepts no push_notification_config. */
  webhookSigningKey?: WebhookSigningKey | null | undefined
  /** Per-attempt timeout of the POST to a Cadent endpoint; default 10 s. */
  cadentTimeoutMs?: number | undefined
  /** Time budget of one call to a managed sales agent's tenant-management API; default 5 s. */
  managedAgentTimeoutMs?: number | undefined
  /** Time bound of one task on an upstream AdCP agent (an ACTIVE AGENT source sold at /mcp); default 5 s. */
  upstreamAgentTimeoutMs?: number | undefined
  /** Bound of one webhook delivery attempt from the outbox; default 10 s. */
  webhookTimeoutMs?: number | undefined
  /** Where background failures that no request waits on are reported (a lost traffic record); default stderr. */
  logError?: ((error: unknown, message: string) => void) | undefined
}

function logToStderr(error: unknown, message: string): void {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, err: error instanceof Error ? error.message : String(error) })}\n`)
}

/**
 * The composition root for domain code: every entry point (HTTP, CLI, MCP) gets the same
 * services, built once per database handle.
 */
export function createServices(deps: ServiceDeps) {
  const { db, clock } = deps
  const access = createAccessService(db, clock)
  // The one client of managed tenants in this process: creation, PUT, test-connection and status share it.
  const tenants = createTenantManagementClient({ clock, timeoutMs: deps.managedAgentTimeoutMs })
  const sources = createSourceService({ ...deps, tenants })
  // The record of every source's traffic (diagnostics, an AGENT's /status), written off the buyer's path.
  const sourceCalls = createSourceCallRecorder({ db, onError: deps.logError ?? logToStderr })
  const sourceStatus = createSourceStatusWorkflows({ db, clock, sources, tenants, sourceCalls })
  const idempotency = createIdempotencyStore(db, clock)
  const ledger = createLedgerService({ db, clock, onResolved: createHoldConsequences({ secrets: deps.secrets }) })
  const availsFeed = createAvailsFeedWorkflows({ db, clock })
  const sandbox = createSandboxWorkflows({ db, clock, ledger, secrets: deps.secrets })
  const buyer = createBuyerWorkflows({ db, clock, availsFeed, sandbox })
  /** The buyer key's creative library (sync_creatives, list_creatives). */
  const creatives = createCreativeWorkflows({ db, clock, ledger, listFormats: buyer.listFormats, secrets: deps.secrets })
  const execution = createExecutionWorkflows({ db, clock, ledger, dispatchTimeoutMs: deps.cadentTimeoutMs })
  const buyerWebhooks = createBuyerWebhooks({ signingKey: deps.webhookSigningKey ?? null })
  // Events are written by the changes themselves (settleSubmittedBuys); this sends them. Without a
  // signing key this process sends nothing and the events wait for a process that has one.
  const webhookOutbox = createWebhookOutbox({
    db,
    clock,
    secrets: deps.secrets,
    send: buyerWebhooks.signerKey ? buyerWebhooks.sendTaskWebhook : null,
    attemptTimeoutMs: deps.webhookTimeoutMs,
  })
  let knownMigrations: Promise<Migration[]> | undefined
  return {
    clock,
    engine: deps.engine,
    /** The key the console's encrypted session cookies are sealed with (derived from the secret key). */
    consoleSessionKey: deps.secrets.deriveKey('console-session-v1'),
    access,
    sources,
    idempotency,
    ledger,
    sourceWorkflows: createSourceWorkflows({ db, sources, ledger, forgetCached: sourceStatus.forget }),
    ledgerWorkflows: createLedgerWorkflows({ db, clock, ledger }),
    execution,
    /** AdCP media buys (create/get/update_media_buy at /mcp, and the operator's list). */
    mediaBuys: createMediaBuyWorkflows({ db, clock, ledger, execution, secrets: deps.secrets, sandbox, creatives }),
    /** The sweep's flight moves of media buys (pending_start -> active -> completed), announced by webhook. */
    flights: createFlightWorkflows({ db, clock, secrets: deps.secrets, onCommitted: webhookOutbox.kick }),
    workItems: createWorkItemWorkflows({ db, clock, ledger, commitAvailsPreview, onCommitted: webhookOutbox.kick, secrets: deps.secrets }),
    /**
     * Committed work-item changes of a storefront, pushed to subscribers in this process (the
     * operator SSE stream, the console); started and stopped by the app that serves them.
     */
    liveEvents: createLiveEvents({ notifications: deps.notifications, maxSubscribers: deps.liveEventsMaxSubscribers }),
    availsFeed,
    /** The buyer-facing reads and accounts behind the AdCP agent at /mcp. */
    buyer,
    /** The buyer key's creative library (sync_creatives, list_creatives). */
    creatives,
    /** get_media_buy_delivery: a buyer key's buys with their delivery rows. */
    buyerDelivery: createBuyerDeliveryWorkflows({ db }),
    /** The sandbox of sandbox buyer keys: its source, comply_test_controller's fixtures, reset. */
    sandbox,
    /** Signed task webhooks to buyers and the JWKS that verifies them. */
    buyerWebhooks,
    /** The persistent outbox of buyers' webhooks: its sender loop runs in every server process. */
    webhookOutbox,
    /** The pg.Pool-like handle @adcp/sdk's own stores (idempotency, tasks) run their SQL on. */
    sdkPool: sqlPoolOf(db),
    sourceStatus,
    modularSources: createModularSourceWorkflows({ db, clock }),
    /** ACTIVE AGENT sources sold at /mcp: their products listed, buys of them forwarded. */
    upstreamSupply: createUpstreamSupplyWorkflows({
      db,
      clock,
      secrets: deps.secrets,
      // Every call to an upstream agent goes through this client, so it is recorded here once.
      call: recordingUpstreamClient(createUpstreamAgentClient({ timeoutMs: deps.upstreamAgentTimeoutMs }), { clock, recorder: sourceCalls }),
    }),
    /** GET /diagnostics, the modular sources' traffic record (served), its retention. */
    sourceDiagnostics: createSourceDiagnosticsWorkflows({ db, clock, recorder: sourceCalls, upstreamTimeoutMs: deps.upstreamAgentTimeoutMs }),
    /** Readiness: the database answers and every migration is applied. */
    async checkReady(): Promise<void> {
      // The migration files are this release's and never change while it runs: read them once.
      knownMigrations ??= loadMigrations()
      await assertSchemaCurrent(db, await knownMigrations)
    },
  }
}

export type Services = ReturnType<typeof createServices>
