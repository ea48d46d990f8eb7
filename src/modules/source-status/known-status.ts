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

/**
 * GET /status of an AGENT or LINKED_STOREFRONT source: what the storefront knows of it, which is
 * its last probe (or connection test) and its own setup tasks. The storefront routes no buyer
 * traffic to these sources yet, so the blocks that count it (workflows, packages, creatives,
 * syncs, products) are absent rather than zeros it did not observe.
 */
export function knownSourceStatus(source: InventorySourceRow, now: Date): InventorySourceStatus {
  const type = source.execution_type === 'AGENT' ? `adcp_${(source.protocol ?? 'MCP').toLowerCase()}` : 'linked_storefront'
  return {
    adapter: {
      type,
      connected: agentConnected(source),
      lastTestedAt: toIso(source.last_checked_at),
      lastTestError: source.last_error,
    },
    fetchedAt: now.toISOString(),
    setupTasks: rollUpSetupTasks(storefrontSetupTasks(source)),
  }
}
