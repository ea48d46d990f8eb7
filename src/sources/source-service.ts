import type { Database } from '../db/database.ts'
import { isUniqueViolation, json } from '../db/database.ts'
import type { InventorySourceRow, InventorySourceUpdate } from '../db/tables.ts'
import type { Clock } from '../shared/clock.ts'
import { fail, StorefrontError } from '../shared/errors.ts'
import type { SecretBox } from '../shared/secret-box.ts'
import { outcomeTransaction } from '../shared/unit-of-work.ts'
import type { AgentProbe, AgentProbeTarget } from './agent-probe.ts'
import { agentConnectionTest } from './connection-test.ts'
import { createManagedSources } from './managed-sources.ts'
import { assertStatusTransition, duplicateSourceId, refuseCredentialsInUrl, resolveSourceId, toSourceResponse } from './source-rules.ts'
import { deleteSourceRow, findSourceRow, passedConnectionCheck, recordConnectionCheck, writeSourceUpdate } from './source-store.ts'
import type { TenantManagementClient } from './tenant-management-client.ts'
import type {
  AgentAuth,
  AuthenticationType,
  CreateAgentSource,
  SourceStatus,
  TestConnectionResponse,
  UpdateAgentSource,
} from './source.schema.ts'

const AGENT_CREDENTIAL_HINT = 'send the credential in auth (write-only, never shown) with the matching authenticationType'

/** Which `auth.type` values belong to which authenticationType. */
const AUTH_TYPES_BY_AUTHENTICATION: Record<AuthenticationType, readonly string[]> = {
  API_KEY: ['bearer', 'apikey', 'api_key'],
  BASIC_AUTH: ['basic'],
  JWT: ['jwt'],
  NO_AUTH: [],
  OAUTH: [],
}

export interface SourceServiceDeps {
  db: Database
  clock: Clock
  secrets: SecretBox
  probeAgent: AgentProbe
  tenants: TenantManagementClient
}

function assertAuthMatches(authenticationType: AuthenticationType, auth: AgentAuth | undefined, path = 'auth'): void {
  const allowed = AUTH_TYPES_BY_AUTHENTICATION[authenticationType]
  if (auth === undefined) {
    if (authenticationType === 'JWT') throw fail.invalidField(path, 'is required when authenticationType is JWT')
    return
  }
  if (allowed.length === 0) throw fail.invalidField(path, `must be omitted when authenticationType is ${authenticationType}`)
  if (!allowed.includes(auth.type)) {
    throw fail.invalidField(`${path}.type`, `must be one of ${allowed.join(', ')} when authenticationType is ${authenticationType}`)
  }
}

export function createSourceService({ db, clock, secrets, probeAgent, tenants }: SourceServiceDeps) {
  const probe = (target: AgentProbeTarget) => probeAgent(target)

  function probeFailure(result: Extract<Awaited<ReturnType<AgentProbe>>, { ok: false }>): StorefrontError {
    return new StorefrontError('VALIDATION_ERROR', `Agent probe failed: ${result.message}`, { reason: result.reason })
  }

  async function list(storefrontId: number, page: { take: number; skip: number }) {
    const [rows, count] = await Promise.all([
      db
        .selectFrom('inventory_source')
        .selectAll()
        .where('storefront_id', '=', storefrontId)
        .orderBy('id')
        .limit(page.take)
        .offset(page.skip)
        .execute(),
      db
        .selectFrom('inventory_source')
        .select((eb) => eb.fn.countAll<number>().as('total'))
        .where('storefront_id', '=', storefrontId)
        .executeTakeFirstOrThrow(),
    ])
    return { items: rows.map(toSourceResponse), total: Number(count.total) }
  }

  async function get(storefrontId: number, sourceId: string) {
    return toSourceResponse(await findSourceRow(db, storefrontId, sourceId))
  }

  async function createAgent(storefrontId: number, input: CreateAgentSource) {
    const sourceId = resolveSourceId(input.sourceId, input.name)
    refuseCredentialsInUrl('endpointUrl', input.endpointUrl, AGENT_CREDENTIAL_HINT)
    assertAuthMatches(input.authenticationType, input.auth)
    if (input.reportingPollingCadence && input.reportingType !== 'POLLING') {
      throw fail.invalidField('reportingPollingCadence', 'is only meaningful when reportingType is POLLING')
    }
    const now = clock.now()
    // NO_AUTH agents activate at creation, so they must pass the live probe first.
    let status: SourceStatus = 'PENDING'
    let probePassedAt: Date | null = null
    if (input.authenticationType === 'NO_AUTH') {
      const result = await probe({ endpointUrl: input.endpointUrl, protocol: input.protocol, authenticationType: 'NO_AUTH', auth: null })
      if (!result.ok) throw probeFailure(result)
      status = 'ACTIVE'
      // Stored times come from the injected clock, like every other timestamp.
      probePassedAt = clock.now()
    }
    try {
      // A transaction of one statement, so an Idempotency-Key's answer commits with the row.
      return await outcomeTransaction(db, async (trx) => toSourceResponse(await trx
        .insertInto('inventory_source')
        .values({
          storefront_id: storefrontId,
          source_id: sourceId,
          name: input.name,
          execution_type: 'AGENT',
          status,
          description: input.description ?? null,
          agent_type: input.type,
          endpoint_url: input.endpointUrl,
          protocol: input.protocol,
          authentication_type: input.authenticationType,
          auth_ciphertext: input.auth ? secrets.sealJson(input.auth) : null,
          oauth_audience: input.oauthAudience ?? null,
          reporting_type: input.reportingType ?? null,
          reporting_polling_cadence: input.reportingPollingCadence ?? null,
          probe_passed_at: probePassedAt,
          last_checked_at: probePassedAt,
          setup_metadata: json({}),
          sandbox_supply: input.sandbox ?? false,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow()))
    } catch (error) {
      if (isUniqueViolation(error, 'inventory_source_one_active_sandbox_supply')) {
        throw fail.conflict('SANDBOX_SUPPLY_TAKEN', `Another AGENT source of this storefront is its ACTIVE sandbox supply; disable it before adding ${sourceId} as an ACTIVE one`)
      }
      if (isUniqueViolation(error)) throw duplicateSourceId(sourceId)
      throw error
    }
  }

  const managed = createManagedSources({ db, clock, secrets, tenants, probeAgent })

  /** PUT /inventory-sources/{sourceId}: AGENT and MANAGED_SALES_AGENT sources; the others have their own flows. */
  async function update(storefrontId: number, sourceId: string, input: UpdateAgentSource) {
    if (Object.keys(input).length === 0) throw fail.validation('Send at least one field to update', { issues: [{ path: '', message: 'no fields supplied' }] })
    const current = await findSourceRow(db, storefrontId, sourceId)
    if (current.execution_type === 'AGENT') return updateAgent(current, input)
    if (current.execution_type === 'MANAGED_SALES_AGENT') return managed.update(current, input)
    throw new StorefrontError('VALIDATION_ERROR', `${current.execution_type} sources are changed through their own flows, not PUT`, {
      reason: 'UNSUPPORTED_EXECUTION_TYPE',
    })
  }

  async function updateAgent(current: InventorySourceRow, input: UpdateAgentSource) {
    if (input.apiKey !== undefined) {
      throw fail.invalidField('apiKey', 'is the tenant-management key of MANAGED_SALES_AGENT sources; an AGENT source rotates its credential with auth')
    }
    for (const field of ['mcpUrl', 'agentAccessToken'] as const) {
      if (input[field] !== undefined) throw fail.invalidField(field, 'is a field of MANAGED_SALES_AGENT sources; an AGENT source changes its endpoint with endpointUrl and its credential with auth')
    }
    refuseCredentialsInUrl('endpointUrl', input.endpointUrl, AGENT_CREDENTIAL_HINT)
    const authenticationType = (input.authenticationType ?? current.authentication_type) as AuthenticationType
    const storedAuth = current.auth_ciphertext ? secrets.openJson<AgentAuth>(current.auth_ciphertext) : undefined
    // A new authenticationType invalidates a stored credential of another shape.
    const storedStillFits = storedAuth !== undefined && AUTH_TYPES_BY_AUTHENTICATION[authenticationType].includes(storedAuth.type)
    const effectiveAuth = input.auth ?? (storedStillFits ? storedAuth : undefined)
    assertAuthMatches(authenticationType, input.auth ?? (authenticationType === 'JWT' ? effectiveAuth : undefined))

    const reportingType = input.reportingType === undefined ? current.reporting_type : input.reportingType
    const cadence = input.reportingPollingCadence === undefined ? current.reporting_polling_cadence : input.reportingPollingCadence
    if (cadence && reportingType !== 'POLLING') {
      throw fail.invalidField('reportingPollingCadence', 'is only meaningful when reportingType is POLLING')
    }

    const nextStatus = input.status ?? current.status
    assertStatusTransition(current.status, nextStatus)

    const connectionChanged =
      input.endpointUrl !== undefined || input.protocol !== undefined || input.authenticationType !== undefined || input.auth !== undefined
    const activating = nextStatus === 'ACTIVE' && current.status !== 'ACTIVE'
    const staysActiveWithNewConnection = nextStatus === 'ACTIVE' && current.status === 'ACTIVE' && connectionChanged
    const now = clock.now()
    const changes: InventorySourceUpdate = { updated_at: now }

    if (activating || staysActiveWithNewConnection) {
      const result = await probe({
        endpointUrl: input.endpointUrl ?? current.endpoint_url!,
        protocol: (input.protocol ?? current.protocol) as 'MCP' | 'A2A',
        authenticationType,
        auth: effectiveAuth ?? null,
      })
      if (!result.ok) {
        // The source stays as it was; only the probe outcome is recorded.
        await recordConnectionCheck(db, current.id, { at: clock.now(), error: result.message })
        throw probeFailure(result)
      }
      Object.assign(changes, passedConnectionCheck(now))
    } else if (connectionChanged) {
      // A new endpoint or credential has not been probed yet.
      changes.probe_passed_at = null
    }

    if (input.name !== undefined) changes.name = input.name
    if (input.description !== undefined) changes.description = input.description
    if (input.endpointUrl !== undefined) changes.endpoint_url = input.endpointUrl
    if (input.protocol !== undefined) changes.protocol = input.protocol
    if (input.authenticationType !== undefined) changes.authentication_type = input.authenticationType
    if (input.oauthAudience !== undefined) changes.oauth_audience = input.oauthAudience
    if (input.reportingType !== undefined) changes.reporting_type = input.reportingType
    if (input.reportingPollingCadence !== undefined) changes.reporting_polling_cadence = input.reportingPollingCadence
    if (input.auth !== undefined) changes.auth_ciphertext = secrets.sealJson(input.auth)
    else if (!storedStillFits && current.auth_ciphertext !== null) changes.auth_ciphertext = null

    // A new connection was probed, or stored unprobed, because of the status seen before the probe.
    return toSourceResponse(await writeSourceUpdate(db, { decidedOn: current, status: input.status, dependsOnStatus: connectionChanged, changes }))
  }

  /**
   * POST /{sourceId}/test-connection of an AGENT (the live probe) or a managed source (one read of
   * the tenant status). The outcome is recorded on the source (lastCheckedAt, lastError) and is
   * what GET /status reports; the source's status does not change.
   */
  async function testConnection(storefrontId: number, sourceId: string): Promise<TestConnectionResponse> {
    const current = await findSourceRow(db, storefrontId, sourceId)
    let outcome: { response: TestConnectionResponse; passed: boolean }
    if (current.execution_type === 'AGENT') {
      const result = await probe({
        endpointUrl: current.endpoint_url!,
        protocol: current.protocol as 'MCP' | 'A2A',
        authenticationType: current.authentication_type!,
        auth: current.auth_ciphertext ? secrets.openJson<AgentAuth>(current.auth_ciphertext) : null,
      })
      outcome = agentConnectionTest(result, clock.now())
    } else if (current.execution_type === 'MANAGED_SALES_AGENT') {
      outcome = await managed.testConnection(current)
    } else {
      throw fail.notFound(`Connection test of ${current.execution_type} source ${sourceId}`)
    }
    const testedAt = new Date(outcome.response.testedAt)
    return outcomeTransaction(db, async (trx) => {
      await recordConnectionCheck(trx, current.id, { at: testedAt, error: outcome.passed ? null : outcome.response.error, stampsProbe: true })
      return outcome.response
    })
  }

  return {
    list,
    get,
    createAgent,
    createManaged: managed.create,
    update,
    testConnection,
    /** Where a managed source's tenant lives, with its key opened: for the status read (and the fan-out). */
    managedConnection: managed.connectionOf,
    remove: deleteSourceRow,
  }
}

export type SourceService = ReturnType<typeof createSourceService>
