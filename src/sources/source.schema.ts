import { z } from 'zod'
import { caseInsensitiveEnum, nameSchema, noteSchema, SourceIdSchema, TimestampSchema } from '../shared/common.schema.ts'

export const EXECUTION_TYPES = ['AGENT', 'MANAGED_SALES_AGENT', 'LINKED_STOREFRONT', 'MODULAR_SOURCE'] as const
export const SOURCE_STATUSES = ['PENDING', 'ACTIVE', 'DISABLED'] as const
export const AGENT_TYPES = ['SALES', 'SIGNAL', 'CREATIVE', 'OUTCOME'] as const
export const PROTOCOLS = ['MCP', 'A2A'] as const
export const AUTHENTICATION_TYPES = ['API_KEY', 'JWT', 'BASIC_AUTH', 'NO_AUTH', 'OAUTH'] as const
export const REPORTING_TYPES = ['WEBHOOK', 'BUCKET', 'POLLING'] as const
export const POLLING_CADENCES = ['DAILY', 'MONTHLY'] as const

export type ExecutionType = (typeof EXECUTION_TYPES)[number]
export type SourceStatus = (typeof SOURCE_STATUSES)[number]
export type AuthenticationType = (typeof AUTHENTICATION_TYPES)[number]

const EndpointUrlSchema = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
  .max(2048)

export const ApiKeyAuthSchema = z.object({
  type: z.enum(['bearer', 'apikey', 'api_key']),
  token: z.string().min(1).max(4096),
})

export const BasicAuthSchema = z.object({
  type: z.literal('basic'),
  username: z.string().min(1).max(255),
  password: z.string().min(1).max(1024),
})

export const JwtAuthSchema = z.object({
  type: z.literal('jwt'),
  privateKey: z.string().min(1).max(16_384),
  issuer: z.string().min(1).max(2048),
  subject: z.string().min(1).max(2048),
  keyId: z.string().min(1).max(255),
  scope: z.string().min(1).max(2048),
  tokenEndpointUrl: EndpointUrlSchema,
  audienceUrl: EndpointUrlSchema,
  algorithm: z.enum(['ES256', 'RS256']).optional(),
  environment: z.string().max(64).optional(),
})

/** Write-only agent credential. Never echoed: responses carry only `authConfigured`. */
export const AgentAuthSchema = z.discriminatedUnion('type', [ApiKeyAuthSchema, BasicAuthSchema, JwtAuthSchema])
export type AgentAuth = z.infer<typeof AgentAuthSchema>

export const CreateAgentSourceSchema = z
  .object({
    name: nameSchema(255),
    sourceId: SourceIdSchema.optional(),
    executionType: caseInsensitiveEnum(['AGENT']).optional(),
    type: caseInsensitiveEnum(AGENT_TYPES),
    endpointUrl: EndpointUrlSchema,
    protocol: caseInsensitiveEnum(PROTOCOLS),
    authenticationType: caseInsensitiveEnum(AUTHENTICATION_TYPES),
    auth: AgentAuthSchema.optional(),
    description: noteSchema(2000).optional(),
    oauthAudience: z.string().min(1).max(2048).optional(),
    reportingType: caseInsensitiveEnum(REPORTING_TYPES).optional(),
    reportingPollingCadence: caseInsensitiveEnum(POLLING_CADENCES).optional(),
    sandbox: z
      .boolean()
      .optional()
      .describe('Sandbox supply: the credential is a sandbox buyer key of the upstream, and while ACTIVE this agent serves the storefront\'s sandbox buyer keys (never live ones). Set at creation only.'),
  })
  .strict()
  .meta({ id: 'CreateInventorySourceRequest' })
export type CreateAgentSource = z.infer<typeof CreateAgentSourceSchema>

/**
 * The X-Tenant-Management-API-Key of a managed tenant: write-only, sealed at rest, sent only to
 * its upstreamUrl. One visible header value: no spaces or control characters.
 */
export const TenantApiKeySchema = z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')

/** The sales agent's tenant id, as its tenant-management API names it. */
export const TenantIdSchema = z.string().min(1).max(255).regex(/^[A-Za-z0-9._:-]+$/, 'must be letters, digits, dots, colons, dashes or underscores')

/**
 * A managed tenant's MCP endpoint as its provision answer (`mcp_url`) or the EsaConnection gives it:
 * absolute, or relative to upstreamUrl (`/mcp/`). Resolved once, by resolveMcpUrl.
 */
export const McpUrlSchema = z.string().min(1).max(2048).regex(/^[\x21-\x7e]+$/, 'must be a URL without spaces or control characters')

/** The tenant principal's access token (the provision answer's `access_token`): a bearer token for its MCP endpoint. */
export const AgentAccessTokenSchema = z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')

export const CreateManagedSourceSchema = z
  .object({
    name: nameSchema(255),
    sourceId: SourceIdSchema.optional(),
    upstreamUrl: EndpointUrlSchema.describe('Base URL of the sales agent that serves /api/v1/tenant-management.'),
    tenantId: TenantIdSchema,
    apiKey: TenantApiKeySchema.describe('Its tenant-management API key (write-only; the answer says authConfigured: true).'),
    mcpUrl: McpUrlSchema.optional().describe('The tenant\'s MCP endpoint, absolute or relative to upstreamUrl (its provision answer\'s mcp_url); with agentAccessToken, the source is sold at /mcp.'),
    agentAccessToken: AgentAccessTokenSchema.optional().describe('The tenant principal\'s access token for mcpUrl (write-only; the answer says managedSa.agentAuthConfigured: true). Sent with mcpUrl.'),
    description: noteSchema(2000).optional(),
  })
  .strict()
  .meta({ id: 'CreateManagedSourceRequest' })
export type CreateManagedSource = z.infer<typeof CreateManagedSourceSchema>

export const UpdateAgentSourceSchema = z
  .object({
    name: nameSchema(255).optional(),
    executionType: caseInsensitiveEnum(['AGENT']).optional(),
    status: caseInsensitiveEnum(SOURCE_STATUSES).optional(),
    description: noteSchema(2000).nullable().optional(),
    endpointUrl: EndpointUrlSchema.optional(),
    protocol: caseInsensitiveEnum(PROTOCOLS).optional(),
    authenticationType: caseInsensitiveEnum(AUTHENTICATION_TYPES).optional(),
    auth: AgentAuthSchema.optional(),
    oauthAudience: z.string().min(1).max(2048).nullable().optional(),
    reportingType: caseInsensitiveEnum(REPORTING_TYPES).nullable().optional(),
    reportingPollingCadence: caseInsensitiveEnum(POLLING_CADENCES).nullable().optional(),
    apiKey: TenantApiKeySchema.optional().describe('MANAGED_SALES_AGENT only: a rotated tenant-management API key (write-only).'),
    mcpUrl: McpUrlSchema.optional().describe('MANAGED_SALES_AGENT only: the tenant\'s MCP endpoint, absolute or relative to upstreamUrl; probed live.'),
    agentAccessToken: AgentAccessTokenSchema.optional().describe('MANAGED_SALES_AGENT only: a rotated tenant principal access token for mcpUrl (write-only); probed live.'),
  })
  .strict()
  .meta({ id: 'UpdateInventorySourceRequest' })
export type UpdateAgentSource = z.infer<typeof UpdateAgentSourceSchema>

export const InventorySourceResponseSchema = z
  .object({
    id: z.string(),
    sourceId: z.string(),
    name: z.string(),
    executionType: z.enum(EXECUTION_TYPES),
    status: z.enum(SOURCE_STATUSES),
    agentId: z.string().nullable(),
    type: z.enum(AGENT_TYPES).nullable(),
    endpointUrl: z.string().nullable(),
    protocol: z.enum(PROTOCOLS).nullable(),
    authenticationType: z.enum(AUTHENTICATION_TYPES).nullable(),
    authConfigured: z.boolean(),
    description: z.string().nullable(),
    oauth: z
      .object({ authorizationUrl: z.string().nullable(), agentId: z.string().nullable(), agentName: z.string().nullable() })
      .nullable(),
    reportingType: z.enum(REPORTING_TYPES).nullable(),
    reportingPollingCadence: z.enum(POLLING_CADENCES).nullable(),
    isAdapterSource: z.boolean(),
    sandbox: z.boolean().describe('A sandbox source: the storefront\'s own sandbox, or an AGENT source that is its sandbox supply.'),
    managedSa: z
      .object({
        upstreamUrl: z.string(),
        tenantId: z.string(),
        mcpUrl: z.string().nullable().describe('The tenant\'s MCP endpoint as registered (may be relative); endpointUrl is it resolved.'),
        agentAuthConfigured: z.boolean().describe('Whether the tenant principal\'s access token is stored (never shown).'),
        lastError: z.string().nullable(),
        lastTestedAt: TimestampSchema.nullable(),
      })
      .nullable()
      .describe('MANAGED_SALES_AGENT only: where the tenant and its MCP endpoint live and its last validation; the key and token are never shown.'),
    linkedStorefront: z.null(),
    lastError: z.string().nullable(),
    lastCheckedAt: TimestampSchema.nullable(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .meta({ id: 'InventorySourceResponse' })
export type InventorySourceResponse = z.infer<typeof InventorySourceResponseSchema>

export const CAPABILITY_CHECK_STATUSES = ['passed', 'failed', 'not_checked'] as const
/** The reference's test-connection error codes (T-test), shared with the managed ESA connection. */
export const CONNECTION_ERROR_CODES = [
  'ADAPTER_NETWORK_NOT_FOUND',
  'ADAPTER_PERMISSION_DENIED',
  'ADAPTER_INVALID_CREDENTIALS',
  'ADAPTER_INVALID_CONFIG',
  'ADAPTER_CONNECTION_FAILED',
  'INTERNAL_ERROR',
] as const
export type ConnectionErrorCode = (typeof CONNECTION_ERROR_CODES)[number]

const CapabilityCheckSchema = z.object({
  capability: z.string(),
  status: z.enum(CAPABILITY_CHECK_STATUSES),
  message: z.string().optional(),
  errorCode: z.enum(CONNECTION_ERROR_CODES).optional(),
  remediation: z.string().optional(),
})
export type CapabilityCheck = z.infer<typeof CapabilityCheckSchema>

/** POST /{sourceId}/test-connection: a failed probe is success false in a 200, not an HTTP error. */
export const TestConnectionResponseSchema = z
  .object({
    success: z.boolean(),
    error: z.string().nullable(),
    errorCode: z.enum(CONNECTION_ERROR_CODES).nullable(),
    remediation: z.string().nullable(),
    details: z.object({ reason: z.string() }).optional().describe('The storefront\'s precise reason (AGENT_UNREACHABLE, TENANT_NOT_FOUND…).'),
    capabilityChecks: z.array(CapabilityCheckSchema),
    testedAt: TimestampSchema,
  })
  .meta({ id: 'TestConnectionResponse' })
export type TestConnectionResponse = z.infer<typeof TestConnectionResponseSchema>

/** POST /{sourceId}/refresh of a managed source: the reference's `{status, syncRunIds}` (T-refresh), and what was dropped. */
export const RefreshResponseSchema = z
  .object({
    status: z.enum(['started', 'already_running']).describe('already_running while a read of this tenant\'s status is in flight in this server process; else started.'),
    syncRunIds: z.record(z.string(), z.string()).describe('Sync runs started, by sync type: always empty, because the storefront starts no syncs in the sales agent; the next GET /status reads the tenant.'),
    sourceId: z.string(),
    cachedStatusDropped: z.boolean().describe('Whether a cached tenant status was forgotten; the next GET /status reads the tenant.'),
    refreshedAt: TimestampSchema,
  })
  .meta({ id: 'RefreshInventorySourceResponse' })
export type RefreshResponse = z.infer<typeof RefreshResponseSchema>
