import { AdcpError, type Account, type SyncCreativesRow } from '@adcp/sdk/server'
import type { ListCreativesRequest, ListCreativesResponse, SyncCreativesRequest } from '@adcp/sdk'
import type { Caller } from '../access/access-service.ts'
import type { CreativeRow, CreativeStatus } from '../db/tables.ts'
import { isStorefrontError } from '../shared/errors.ts'
import type { Services } from '../services.ts'
import type { AssignmentInput, CreativeInput, SyncCreativeResult } from '../workflows/creative-workflows.ts'
import type { AccountMeta } from './adcp-wire.ts'
import type { ToolCall } from './mcp-routes.ts'

/**
 * sync_creatives and list_creatives: the AdCP wire onto the creative workflows
 * (src/workflows/creative-workflows.ts). Registered on the sales platform by agent.ts.
 */

const CREATIVES_PAGE_DEFAULT = 50
// assignment_errors is keyed by package id, and the schema only allows these characters in a key.
const ERROR_KEY = /^[a-zA-Z0-9_-]+$/
const LIST_FILTERS = new Set(['creative_ids', 'statuses', 'format_ids'])

function refuse(field: string, message: string, code: 'INVALID_REQUEST' | 'UNSUPPORTED_FEATURE' = 'INVALID_REQUEST'): never {
  throw new AdcpError(code, { message, field, recovery: 'correctable' })
}

function toInput(creative: SyncCreativesRequest['creatives'][number]): CreativeInput {
  const { agent_url: agentUrl, id } = creative.format_id
  return {
    creativeId: creative.creative_id,
    name: creative.name,
    format: { agentUrl, id, raw: { ...creative.format_id } },
    assets: creative.assets as Record<string, unknown>,
    industryIdentifiers: (creative.industry_identifiers ?? []).map(({ type, value }) => ({ type, value })),
    tags: creative.tags ?? [],
  }
}

function toRow(result: SyncCreativeResult): SyncCreativesRow {
  const errors = Object.entries(result.assignmentErrors ?? {})
  const keyed = errors.filter(([packageId]) => ERROR_KEY.test(packageId))
  const unkeyed = errors.filter(([packageId]) => !ERROR_KEY.test(packageId))
  return {
    creative_id: result.creativeId,
    action: result.action,
    ...(result.status ? { status: result.status } : {}),
    ...(result.changes?.length ? { changes: result.changes } : {}),
    ...(result.errors?.length ? { errors: result.errors.map(({ code, message, field }) => ({ code, message, field, recovery: 'correctable' as const })) } : {}),
    ...(result.assignedTo?.length ? { assigned_to: result.assignedTo } : {}),
    ...(keyed.length ? { assignment_errors: Object.fromEntries(keyed) } : {}),
    ...(unkeyed.length ? { warnings: unkeyed.map(([packageId, message]) => `assignment to ${JSON.stringify(packageId)}: ${message}`) } : {}),
  }
}

function toWireCreative(row: CreativeRow): ListCreativesResponse['creatives'][number] {
  const tags = row.tags
  return {
    creative_id: row.creative_id,
    name: row.name,
    format_id: row.format as unknown as ListCreativesResponse['creatives'][number]['format_id'],
    status: row.status,
    created_date: row.created_at.toISOString(),
    updated_date: row.updated_at.toISOString(),
    assets: row.assets as ListCreativesResponse['creatives'][number]['assets'],
    ...(tags.length ? { tags } : {}),
  }
}

function toAdcpError(error: unknown): never {
  if (isStorefrontError(error) && error.code === 'VALIDATION_ERROR') {
    const field = error.details?.issues?.[0]?.path
    throw new AdcpError('INVALID_REQUEST', { message: error.message, recovery: 'correctable', ...(field ? { field } : {}) })
  }
  throw error
}

export function creativeTools(services: Services, request: { caller: Caller; agentUrl: string; toolCall?: ToolCall | null | undefined }) {
  const { caller, agentUrl } = request
  return {
    async syncCreatives(creatives: SyncCreativesRequest['creatives'], ctx: { account: Account<AccountMeta> }): Promise<SyncCreativesRow[]> {
      const call = request.toolCall?.name === 'sync_creatives' ? request.toolCall.arguments as Partial<SyncCreativesRequest> : undefined
      if (!call || !Array.isArray(call.creatives) || call.creatives.length !== creatives.length) {
        refuse('creatives', 'sync_creatives must be the only message of its HTTP request (batched JSON-RPC is not read for sync_creatives)')
      }
      if (call.dry_run === true) refuse('dry_run', 'dry_run is not supported: this agent applies a sync or refuses it, and never previews one', 'UNSUPPORTED_FEATURE')
      if (call.delete_missing === true) refuse('delete_missing', 'delete_missing is not supported: send the creatives to keep; nothing is archived implicitly', 'UNSUPPORTED_FEATURE')
      const scope = call.creative_ids
      const inScope = scope ? creatives.filter((creative) => scope.includes(creative.creative_id)) : creatives
      const assignments: AssignmentInput[] = (call.assignments ?? []).map((assignment) => ({
        creativeId: assignment.creative_id,
        packageId: assignment.package_id,
        weight: assignment.weight ?? null,
      }))
      const results = await services.creatives
        .syncCreatives(caller, { buyerAccountId: ctx.account.ctx_metadata.rowId, agentUrl, creatives: inScope.map(toInput), assignments })
        .catch(toAdcpError)
      return results.map(toRow)
    },

    async listCreatives(params: ListCreativesRequest): Promise<ListCreativesResponse> {
      const filters = params.filters ?? {}
      for (const key of Object.keys(filters)) {
        if (!LIST_FILTERS.has(key)) refuse(`filters.${key}`, `filters.${key} is not supported; this agent filters by ${[...LIST_FILTERS].join(', ')}`, 'UNSUPPORTED_FEATURE')
      }
      if (params.sort && (params.sort.field ?? 'created_date') !== 'created_date') refuse('sort.field', 'creatives are listed by created_date only')
      if (params.sort?.direction === 'desc') refuse('sort.direction', 'creatives are listed oldest first (asc) only')
      const page = await services.creatives
        .listOwnCreatives(caller, {
          creativeIds: filters.creative_ids,
          statuses: filters.statuses as CreativeStatus[] | undefined,
          formats: filters.format_ids?.map((format) => ({ agentUrl: format.agent_url, id: format.id })),
          limit: params.pagination?.max_results ?? CREATIVES_PAGE_DEFAULT,
          cursor: params.pagination?.cursor,
        })
        .catch(toAdcpError)
      const applied = Object.keys(filters).filter((key) => (filters as Record<string, unknown[] | undefined>)[key]?.length)
      return {
        query_summary: { total_matching: page.totalMatching, returned: page.rows.length, ...(applied.length ? { filters_applied: applied } : {}) },
        pagination: { has_more: page.nextCursor !== null, ...(page.nextCursor ? { cursor: page.nextCursor } : {}), total_count: page.totalMatching },
        creatives: page.rows.map(toWireCreative),
      }
    },
  }
}
