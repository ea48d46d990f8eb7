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
    sandbox: row.sandbox || row.sandbox_supply,
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

/** The tenant's MCP endpoint as registered (absolute or relative), or null when none is. */
export function managedMcpUrlOf(row: InventorySourceRow): string | null {
  const { mcpUrl } = row.setup_metadata as { mcpUrl?: unknown }
  return typeof mcpUrl === 'string' ? mcpUrl : null
}

/**
 * The one resolution of a managed tenant's MCP endpoint: absolute, or relative to upstreamUrl (the
 * reference's provision answer and EsaConnection give `/mcp/`), as a browser resolves a link on the
 * page at upstreamUrl + '/' (so `mcp/` keeps upstreamUrl's path prefix and `/mcp/` does not). The
 * result is what is stored in endpoint_url and called; it must be an http(s) URL without a fragment
 * or a credential (the token goes in agentAccessToken).
 */
export function resolveMcpUrl(upstreamUrl: string, mcpUrl: string): string {
  let resolved: URL
  try {
    resolved = new URL(mcpUrl, upstreamUrl.endsWith('/') ? upstreamUrl : `${upstreamUrl}/`)
  } catch {
    throw fail.invalidField('mcpUrl', 'must be an http(s) URL or a path relative to upstreamUrl')
  }
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') throw fail.invalidField('mcpUrl', 'must be an http(s) URL or a path relative to upstreamUrl')
  if (resolved.hash) throw fail.invalidField('mcpUrl', 'must not carry a fragment')
  refuseCredentialsInUrl('mcpUrl', resolved.href, 'send the tenant principal\'s token in agentAccessToken (write-only, never shown)')
  return resolved.href
}

function managedSaOf(row: InventorySourceRow): InventorySourceResponse['managedSa'] {
  const { upstreamUrl, tenantId } = managedSetupOf(row)
  return {
    upstreamUrl,
    tenantId,
    mcpUrl: managedMcpUrlOf(row),
    agentAuthConfigured: row.agent_auth_ciphertext !== null,
    lastError: row.last_error,
    lastTestedAt: toIso(row.last_checked_at),
  }
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
