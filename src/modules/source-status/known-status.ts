import type { InventorySourceRow } from '../../db/tables.ts'
import { toIso } from '../../shared/clock.ts'
import { rollUpSetupTasks, type InventorySourceStatus, type SetupTask } from './status.schema.ts'

/**
 * The storefront's own setup tasks of a source it does not run itself (AGENT, managed tenant,
 * linked storefront): what the storefront, as the platform, needs before it can sell through it.
 * Managed tenants get them merged ahead of the tenant's own list.
 */
export function storefrontSetupTasks(source: InventorySourceRow): SetupTask[] {
  const base = `/inventory-sources/${source.source_id}`
  const tasks: SetupTask[] = []
  if (source.execution_type === 'AGENT') {
    const oauth = source.authentication_type === 'OAUTH'
    const credentialComplete = source.authentication_type === 'NO_AUTH' || (!oauth && source.auth_ciphertext !== null)
    tasks.push({
      id: 'source:credential',
      name: 'Store the agent credential',
      severity: 'blocker',
      scope: 'platform',
      description: oauth
        ? 'OAuth agents cannot be authorized yet: the storefront has no OAuth flow.'
        : source.authentication_type === 'NO_AUTH' ? 'The agent takes no credential.'
          : credentialComplete ? 'The credential is stored (write-only).' : `Send auth for this ${source.authentication_type} agent with PUT.`,
      isComplete: credentialComplete,
      configurePath: base,
    })
    tasks.push({
      id: 'source:probe',
      name: 'Pass the live agent probe',
      severity: 'blocker',
      scope: 'platform',
      description: source.last_error ?? (source.probe_passed_at ? 'The last probe passed.' : 'The agent has not been probed with its current endpoint and credential.'),
      isComplete: agentConnected(source),
      configurePath: `${base}/test-connection`,
    })
  }
  tasks.push({
    id: 'source:active',
    name: 'Activate the source',
    severity: 'blocker',
    scope: 'platform',
    description: source.status === 'ACTIVE' ? 'The source is ACTIVE.' : `The source is ${source.status}; set status ACTIVE with PUT.`,
    isComplete: source.status === 'ACTIVE',
    configurePath: base,
  })
  return tasks
}

/** The last probe or connection test passed and nothing failed since. */
function agentConnected(source: InventorySourceRow): boolean {
  return source.probe_passed_at !== null && source.last_error === null
}

/** An AGENT source's recorded traffic of the last 24 h, per upstream tool (source_call). */
export interface RecentTraffic {
  hours: number
  byTool: Array<{ tool: string; requests: number; failed: number; timeouts: number }>
}

/** Upstream tools whose failure leaves buyers without products; the rest are buying and managing. */
const DISCOVERY_TOOLS = new Set(['get_products'])

function operationalOf(source: InventorySourceRow, connected: boolean, traffic: RecentTraffic) {
  const requests = traffic.byTool.reduce((sum, row) => sum + row.requests, 0)
  const failing = traffic.byTool.filter((row) => row.failed + row.timeouts > 0)
  const issues = failing.map((row) => {
    const failures = row.failed + row.timeouts
    return {
      code: 'UPSTREAM_CALLS_FAILING',
      severity: failures * 2 >= row.requests ? 'critical' as const : 'warning' as const,
      message: `${row.tool}: ${failures} of ${row.requests} calls in the last ${traffic.hours} h failed (${row.timeouts} timed out).`,
      affects: [DISCOVERY_TOOLS.has(row.tool) ? 'discovery' as const : 'delivery' as const],
    }
  })
  const failures = failing.reduce((sum, row) => sum + row.failed + row.timeouts, 0)
  const isLive = source.status === 'ACTIVE' && connected
  return {
    isLive,
    discoveryDegraded: !isLive || failing.some((row) => DISCOVERY_TOOLS.has(row.tool)),
    deliveryDegraded: failing.some((row) => !DISCOVERY_TOOLS.has(row.tool)),
    summary: `${isLive ? 'Selling' : `Not selling (${source.status === 'ACTIVE' ? 'the last check failed' : `the source is ${source.status}`})`}: ` +
      `${requests} calls to the agent in the last ${traffic.hours} h, ${failures} failed or timed out.`,
    issues,
  }
}

/**
 * GET /status of an AGENT or LINKED_STOREFRONT source: what the storefront knows of it, which is
 * its last probe (or connection test), its own setup tasks and, for an AGENT, the traffic it
 * routed there (`operational`, from the record of its calls). Blocks the storefront does not
 * observe (workflows, packages, creatives, syncs, products) are absent rather than made-up zeros.
 */
export function knownSourceStatus(source: InventorySourceRow, now: Date, traffic?: RecentTraffic): InventorySourceStatus {
  const type = source.execution_type === 'AGENT' ? `adcp_${(source.protocol ?? 'MCP').toLowerCase()}` : 'linked_storefront'
  const connected = agentConnected(source)
  return {
    adapter: {
      type,
      connected,
      lastTestedAt: toIso(source.last_checked_at),
      lastTestError: source.last_error,
    },
    fetchedAt: now.toISOString(),
    setupTasks: rollUpSetupTasks(storefrontSetupTasks(source)),
    ...(traffic ? { operational: operationalOf(source, connected, traffic) } : {}),
  }
}
