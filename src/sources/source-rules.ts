import type { InventorySourceRow } from '../db/tables.ts'
import { toIso } from '../shared/clock.ts'
import { slugify, SOURCE_ID_PATTERN } from '../shared/common.schema.ts'
import { fail, StorefrontError } from '../shared/errors.ts'
import { refuseClearTextSecrets } from '../shared/secret-names.ts'
import type { InventorySourceResponse, SourceStatus } from './source.schema.ts'

/** The rules every kind of inventory source shares: ids, status transitions, the response. */

export const ALLOWED_TRANSITIONS: Record<SourceStatus, readonly SourceStatus[]> = {
  PENDING: ['ACTIVE', 'DISABLED'],
  ACTIVE: ['DISABLED'],
  DISABLED: ['ACTIVE'],
}

export function toSourceResponse(row: InventorySourceRow): InventorySourceResponse {
  const isAgent = row.execution_type === 'AGENT'
  return {
    id: String(row.id),
    sourceId: row.source_id,
    name: row.name,
    executionType: row.execution_type,
    status: row.status,
    agentId: row.agent_id,
    type: row.agent_type as InventorySourceResponse['type'],
    endpointUrl: row.endpoint_url,
    protocol: row.protocol as InventorySourceResponse['protocol'],
    authenticationType: row.authentication_type as InventorySourceResponse['authenticationType'],
    authConfigured: row.auth_ciphertext !== null,
    description: row.description,
    oauth: row.authentication_type === 'OAUTH' ? { authorizationUrl: null, agentId: row.agent_id, agentName: row.name } : null,
    reportingType: isAgent ? (row.reporting_type as InventorySourceResponse['reportingType']) : null,
    reportingPollingCadence: isAgent ? (row.reporting_polling_cadence as InventorySourceResponse['reportingPollingCadence']) : null,
    isAdapterSource: false,
    managedSa: row.execution_type === 'MANAGED_SALES_AGENT' ? managedSaOf(row) : null,
    linkedStorefront: null,
    lastError: row.last_error,
    lastCheckedAt: toIso(row.last_checked_at),
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
  }
}

/** Where a managed tenant lives (non-secret, in setup_metadata); its key is sealed in auth_ciphertext. */
export interface ManagedSetup {
  upstreamUrl: string
  tenantId: string
}

export function managedSetupOf(row: InventorySourceRow): ManagedSetup {
  const { upstreamUrl, tenantId } = row.setup_metadata as Partial<Record<keyof ManagedSetup, unknown>>
  if (typeof upstreamUrl !== 'string' || typeof tenantId !== 'string') {
    throw new Error(`Managed source ${row.id} has no upstreamUrl and tenantId in its setup metadata`)
  }
  return { upstreamUrl, tenantId }
}

function managedSaOf(row: InventorySourceRow): InventorySourceResponse['managedSa'] {
  const { upstreamUrl, tenantId } = managedSetupOf(row)
  return { upstreamUrl, tenantId, lastError: row.last_error, lastTestedAt: toIso(row.last_checked_at) }
}

/** A URL shown in every answer carries no credential: it goes in the write-only field `credentialHint` names. */
export function refuseCredentialsInUrl(field: string, url: string | undefined, credentialHint: string): void {
  if (url === undefined) return
  refuseClearTextSecrets({ [field]: url }, { pathPrefix: '', where: field, credentialHint })
}

export function resolveSourceId(sourceId: string | undefined, name: string): string {
  const resolved = sourceId ?? slugify(name)
  if (!SOURCE_ID_PATTERN.test(resolved)) {
    throw fail.invalidField('sourceId', `cannot derive a valid sourceId from name "${name}"; send sourceId explicitly`)
  }
  return resolved
}

export function duplicateSourceId(sourceId: string): StorefrontError {
  return fail.conflict('DUPLICATE_SOURCE_ID', `Another source on this storefront already uses sourceId ${sourceId}`, { sourceId })
}

export function assertStatusTransition(current: SourceStatus, next: SourceStatus): void {
  if (next !== current && !ALLOWED_TRANSITIONS[current].includes(next)) {
    throw new StorefrontError('VALIDATION_ERROR', `Cannot move a ${current} source to ${next}`, {
      reason: 'INVALID_STATUS_TRANSITION',
      issues: [{ path: 'status', message: `allowed from ${current}: ${ALLOWED_TRANSITIONS[current].join(', ') || 'none'}` }],
    })
  }
}
