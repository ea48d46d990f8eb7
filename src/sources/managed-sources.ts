import type { Database } from '../db/database.ts'
import { isUniqueViolation, json } from '../db/database.ts'
import type { InventorySourceRow, InventorySourceUpdate } from '../db/tables.ts'
import type { Clock } from '../shared/clock.ts'
import { fail, StorefrontError } from '../shared/errors.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import type { AgentProbe, AgentProbeResult } from './agent-probe.ts'
import { managedConnectionTest } from './connection-test.ts'
import {
  assertStatusTransition,
  duplicateSourceId,
  managedMcpUrlOf,
  managedSetupOf,
  refuseCredentialsInUrl,
  resolveMcpUrl,
  resolveSourceId,
  toSourceResponse,
  type ManagedSetup,
} from './source-rules.ts'
import type { AgentAuth, CreateManagedSource, TestConnectionResponse, UpdateAgentSource } from './source.schema.ts'
import { lookupSourceRow, passedConnectionCheck, recordConnectionCheck, writeSourceUpdate } from './source-store.ts'
import type { ManagedConnection, TenantManagementClient, UpstreamFailure } from './tenant-management-client.ts'

/** The sealed credential of a managed source: the key of its tenant-management API. */
interface ManagedCredential {
  type: 'tenant_management_key'
  apiKey: string
}

/** What PUT may change on a managed source; where it lives (upstreamUrl, tenantId) is fixed at creation. */
const UPDATABLE_FIELDS = new Set(['name', 'description', 'status', 'apiKey', 'mcpUrl', 'agentAccessToken'])

/**
 * The tenant's own buyer endpoint: its MCP URL as registered and resolved, and the tenant
 * principal's token, which the storefront sends there as a buyer (sealed in agent_auth_ciphertext).
 */
interface BuyerEndpoint {
  mcpUrl: string
  endpointUrl: string
  token: string
}

const URL_CREDENTIAL_HINT = 'send the tenant-management key in apiKey (write-only, never shown)'

function validationFailure(failure: UpstreamFailure): StorefrontError {
  return new StorefrontError('VALIDATION_ERROR', `Tenant validation failed: ${failure.message}`, { reason: failure.reason })
}

/** upstreamUrl is a base URL: the storefront appends the tenant-management path to it. */
function assertBaseUrl(upstreamUrl: string): void {
  refuseCredentialsInUrl('upstreamUrl', upstreamUrl, URL_CREDENTIAL_HINT)
  const url = new URL(upstreamUrl)
  if (url.search || url.hash) throw fail.invalidField('upstreamUrl', 'must be a base URL without a query or fragment')
}

export interface ManagedSourceDeps {
  db: Database
  clock: Clock
  secrets: SecretBox
  tenants: TenantManagementClient
  /** The AGENT probe, run on the tenant's MCP endpoint whenever it (or its token) is set, and on activation. */
  probeAgent: AgentProbe
}

/**
 * A failed probe of the tenant's MCP endpoint, naming the field to fix: agentAccessToken when the
 * endpoint refused (or wanted) the token, mcpUrl for everything else.
 */
function endpointFailure(result: Extract<AgentProbeResult, { ok: false }>): StorefrontError {
  const field = result.failedCheck === 'authentication' ? 'agentAccessToken' : 'mcpUrl'
  return fail.invalidField(field, `Agent probe failed: ${result.message}`, result.reason)
}

/**
 * MANAGED_SALES_AGENT sources: a tenant of a reference sales agent, registered by its base URL,
 * tenant id and tenant-management key. Becoming ACTIVE (at creation, or again after DISABLED)
 * and keeping ACTIVE with a rotated key both take one live read of the tenant status. With its
 * tenant's MCP endpoint and principal token (mcpUrl, agentAccessToken) it is also an upstream
 * agent sold at /mcp (listUpstreamAgentSources); the endpoint passes the AGENT probe first.
 */
export function createManagedSources({ db, clock, secrets, tenants, probeAgent }: ManagedSourceDeps) {
  function connectionOf(row: InventorySourceRow): ManagedConnection {
    if (row.execution_type !== 'MANAGED_SALES_AGENT' || row.auth_ciphertext === null) {
      throw new Error(`Source ${row.id} is not a managed source with a stored key`)
    }
    return { ...managedSetupOf(row), apiKey: secrets.openJson<ManagedCredential>(row.auth_ciphertext).apiKey }
  }

  /** The stored buyer endpoint of a managed row, its token opened; null when none is registered. */
  function storedEndpointOf(row: InventorySourceRow): BuyerEndpoint | null {
    const mcpUrl = managedMcpUrlOf(row)
    if (mcpUrl === null || row.endpoint_url === null || row.agent_auth_ciphertext === null) return null
    return { mcpUrl, endpointUrl: row.endpoint_url, token: secrets.openJson<AgentAuth & { type: 'bearer' }>(row.agent_auth_ciphertext).token }
  }

  /**
   * The buyer endpoint after this input: the stored one with what the input changes, mcpUrl
   * resolved against upstreamUrl. Both halves come together: one alone, with the other neither
   * sent nor stored, is refused (a URL without a token cannot be bought from, a token without a
   * URL goes nowhere).
   */
  function endpointAfter(upstreamUrl: string, stored: BuyerEndpoint | null, input: { mcpUrl?: string | undefined; agentAccessToken?: string | undefined }): BuyerEndpoint | null {
    const mcpUrl = input.mcpUrl ?? stored?.mcpUrl
    const token = input.agentAccessToken ?? stored?.token
    if (mcpUrl === undefined && token === undefined) return null
    if (mcpUrl === undefined) throw fail.invalidField('mcpUrl', 'is required with agentAccessToken: the token is sent to the tenant\'s MCP endpoint')
    if (token === undefined) throw fail.invalidField('agentAccessToken', 'is required with mcpUrl: the storefront buys from the tenant as its principal')
    return { mcpUrl, endpointUrl: resolveMcpUrl(upstreamUrl, mcpUrl), token }
  }

  /** One live AGENT probe of the tenant's MCP endpoint with the principal's token, as a buyer would connect. */
  function probeEndpoint(endpoint: BuyerEndpoint): Promise<AgentProbeResult> {
    return probeAgent({ endpointUrl: endpoint.endpointUrl, protocol: 'MCP', authenticationType: 'API_KEY', auth: { type: 'bearer', token: endpoint.token } })
  }

  function endpointColumns(endpoint: BuyerEndpoint, setup: ManagedSetup): InventorySourceUpdate {
    return {
      endpoint_url: endpoint.endpointUrl,
      protocol: 'MCP',
      agent_auth_ciphertext: secrets.sealJson({ type: 'bearer', token: endpoint.token } satisfies AgentAuth),
      setup_metadata: json({ ...setup, mcpUrl: endpoint.mcpUrl }),
    }
  }

  async function create(storefrontId: number, input: CreateManagedSource) {
    const sourceId = resolveSourceId(input.sourceId, input.name)
    assertBaseUrl(input.upstreamUrl)
    const endpoint = endpointAfter(input.upstreamUrl, null, input)
    // Refused before the live call: a taken sourceId needs no upstream round trip.
    if (await lookupSourceRow(db, storefrontId, sourceId)) throw duplicateSourceId(sourceId)
    const read = await tenants.readTenantStatus({ upstreamUrl: input.upstreamUrl, tenantId: input.tenantId, apiKey: input.apiKey })
    if (!read.ok) throw validationFailure(read)
    if (endpoint) {
      const probed = await probeEndpoint(endpoint)
      if (!probed.ok) throw endpointFailure(probed)
    }
    const setup: ManagedSetup = { upstreamUrl: input.upstreamUrl, tenantId: input.tenantId }
    const now = clock.now()
    const credential: ManagedCredential = { type: 'tenant_management_key', apiKey: input.apiKey }
    try {
      return await outcomeTransaction(db, async (trx) => toSourceResponse(await trx
        .insertInto('inventory_source')
        .values({
          storefront_id: storefrontId,
          source_id: sourceId,
          name: input.name,
          execution_type: 'MANAGED_SALES_AGENT',
          status: 'ACTIVE',
          description: input.description ?? null,
          agent_type: 'SALES',
          authentication_type: 'API_KEY',
          auth_ciphertext: secrets.sealJson(credential),
          probe_passed_at: now,
          last_checked_at: now,
          setup_metadata: json(setup),
          ...(endpoint ? endpointColumns(endpoint, setup) : {}),
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow()))
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateSourceId(sourceId)
      throw error
    }
  }

  /**
   * PUT of a managed source. A rotated key is checked live whenever the source is, or becomes,
   * ACTIVE, so an ACTIVE source never holds a key the tenant refused; on failure nothing changes
   * but the recorded check. On a PENDING or DISABLED source it is stored unchecked and checked
   * on activation. A new mcpUrl or agentAccessToken is probed live whatever the status, and the
   * stored endpoint again on activation, so the storefront never sells through an endpoint that
   * refused it at its last check.
   */
  async function update(current: InventorySourceRow, input: UpdateAgentSource) {
    for (const [field, value] of Object.entries(input)) {
      if (value !== undefined && !UPDATABLE_FIELDS.has(field)) {
        throw fail.invalidField(field, 'is not a field of MANAGED_SALES_AGENT sources; PUT takes name, description, status, apiKey, mcpUrl and agentAccessToken')
      }
    }
    const nextStatus = input.status ?? current.status
    assertStatusTransition(current.status, nextStatus)
    const activating = nextStatus === 'ACTIVE' && current.status !== 'ACTIVE'
    const rotating = input.apiKey !== undefined
    const setup = managedSetupOf(current)
    const endpointChanged = input.mcpUrl !== undefined || input.agentAccessToken !== undefined
    const endpoint = endpointChanged ? endpointAfter(setup.upstreamUrl, storedEndpointOf(current), input) : storedEndpointOf(current)
    const changes: InventorySourceUpdate = { updated_at: clock.now() }

    if (nextStatus === 'ACTIVE' && (activating || rotating)) {
      const connection = { ...connectionOf(current), ...(rotating ? { apiKey: input.apiKey! } : {}) }
      const read = await tenants.readTenantStatus(connection)
      if (!read.ok) {
        await recordConnectionCheck(db, current.id, { at: clock.now(), error: `Tenant validation failed: ${read.message}` })
        throw validationFailure(read)
      }
      Object.assign(changes, passedConnectionCheck(clock.now()))
    } else if (rotating) {
      changes.probe_passed_at = null
    }
    if (endpoint && (endpointChanged || activating)) {
      const probed = await probeEndpoint(endpoint)
      if (!probed.ok) {
        await recordConnectionCheck(db, current.id, { at: clock.now(), error: `Agent probe failed: ${probed.message}` })
        throw endpointFailure(probed)
      }
    }
    if (endpoint && endpointChanged) Object.assign(changes, endpointColumns(endpoint, setup))

    if (input.name !== undefined) changes.name = input.name
    if (input.description !== undefined) changes.description = input.description
    if (rotating) changes.auth_ciphertext = secrets.sealJson({ type: 'tenant_management_key', apiKey: input.apiKey! } satisfies ManagedCredential)

    // A rotated key was checked live, or stored unchecked, because of the status seen before the read.
    return toSourceResponse(await writeSourceUpdate(db, { decidedOn: current, status: input.status, dependsOnStatus: rotating, changes }))
  }

  async function testConnection(row: InventorySourceRow): Promise<{ response: TestConnectionResponse; passed: boolean }> {
    const read = await tenants.readTenantStatus(connectionOf(row))
    const endpoint = storedEndpointOf(row)
    // The endpoint is probed only once the tenant answered: its checks come after the tenant's.
    const probed = endpoint && read.ok ? await probeEndpoint(endpoint) : null
    return managedConnectionTest(read, clock.now(), endpoint ? probed : undefined)
  }

  return { create, update, testConnection, connectionOf }
}
