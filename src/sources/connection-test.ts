import { PROBE_CHECKS, type AgentProbeResult, type ProbeCheck } from './agent-probe.ts'
import type { CapabilityCheck, ConnectionErrorCode, TestConnectionResponse } from './source.schema.ts'
import type { TenantStatusRead, UpstreamFailureReason, UpstreamResult } from './tenant-management-client.ts'

/**
 * POST /{sourceId}/test-connection answers (reference T-test): one capability check per step,
 * in order; the first failed one is the answer's error, the ones after it were not checked.
 */

export interface ConnectionTestOutcome {
  response: TestConnectionResponse
  /** Every check passed: the source may be recorded as connected. */
  passed: boolean
}

const MAX_UPSTREAM_TEXT = 200

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > MAX_UPSTREAM_TEXT ? `${line.slice(0, MAX_UPSTREAM_TEXT)}…` : line
}

function answer(checks: CapabilityCheck[], testedAt: Date, reason?: string): ConnectionTestOutcome {
  const failed = checks.find((check) => check.status === 'failed')
  const unchecked = checks.every((check) => check.status === 'not_checked')
  const first = failed ?? (unchecked ? checks[0] : undefined)
  const passed = first === undefined
  return {
    passed,
    response: {
      success: passed,
      error: first?.message ?? null,
      errorCode: first?.errorCode ?? null,
      remediation: first?.remediation ?? null,
      ...(reason ? { details: { reason } } : {}),
      capabilityChecks: checks,
      testedAt: testedAt.toISOString(),
    },
  }
}

const AGENT_FAILURES: Record<ProbeCheck, { errorCode: ConnectionErrorCode; remediation: string }> = {
  reachability: {
    errorCode: 'ADAPTER_CONNECTION_FAILED',
    remediation: 'Check endpointUrl and that the agent is running and reachable from the storefront, then test again.',
  },
  authentication: {
    errorCode: 'ADAPTER_INVALID_CREDENTIALS',
    remediation: 'Rotate the credential with PUT /inventory-sources/{sourceId} and auth, then test again.',
  },
  adcp_compliance: {
    errorCode: 'ADAPTER_INVALID_CONFIG',
    remediation: 'Point endpointUrl at the agent\'s AdCP MCP endpoint: it must list the media-buy tools and declare media_buy in get_adcp_capabilities (docs/agent-probe.md).',
  },
}

/** An AGENT source's test: the live probe, reported as reachability, authentication, AdCP compliance. */
export function agentConnectionTest(result: AgentProbeResult, testedAt: Date): ConnectionTestOutcome {
  if (result.ok) return answer(PROBE_CHECKS.map((capability) => ({ capability, status: 'passed' })), testedAt)
  if (result.reason === 'AGENT_NOT_PROBED') {
    const checks: CapabilityCheck[] = PROBE_CHECKS.map((capability) => ({ capability, status: 'not_checked' }))
    checks[0] = {
      ...checks[0]!,
      message: result.message,
      errorCode: 'ADAPTER_INVALID_CONFIG',
      remediation: 'Register the agent over MCP with an API key, Basic credentials or no auth (docs/agent-probe.md).',
    }
    return answer(checks, testedAt, result.reason)
  }
  const failedCheck = result.failedCheck ?? (result.reason === 'AGENT_NOT_COMPLIANT' ? 'adcp_compliance' : 'reachability')
  const failedAt = PROBE_CHECKS.indexOf(failedCheck)
  const checks = PROBE_CHECKS.map((capability, index): CapabilityCheck => {
    if (index < failedAt) return { capability, status: 'passed' }
    if (index > failedAt) return { capability, status: 'not_checked' }
    return { capability, status: 'failed', message: result.message, ...AGENT_FAILURES[failedCheck] }
  })
  return answer(checks, testedAt, result.reason)
}

const TENANT_FAILURES: Record<UpstreamFailureReason, { errorCode: ConnectionErrorCode; remediation: string }> = {
  UPSTREAM_UNREACHABLE: {
    errorCode: 'ADAPTER_CONNECTION_FAILED',
    remediation: 'Check upstreamUrl and that the sales agent is running and reachable from the storefront.',
  },
  UPSTREAM_TIMEOUT: {
    errorCode: 'ADAPTER_CONNECTION_FAILED',
    remediation: 'The sales agent is slow or stuck: check its health, then test again.',
  },
  UPSTREAM_CREDENTIAL_REJECTED: {
    errorCode: 'ADAPTER_INVALID_CREDENTIALS',
    remediation: 'Rotate the key with PUT /inventory-sources/{sourceId} and apiKey (the sales agent\'s TENANT_MANAGEMENT_API_KEY).',
  },
  TENANT_NOT_FOUND: {
    errorCode: 'ADAPTER_INVALID_CONFIG',
    remediation: 'Check tenantId against the sales agent\'s tenants (it may have been deleted), and that upstreamUrl is the agent\'s base URL.',
  },
  UPSTREAM_HTTP_ERROR: {
    errorCode: 'ADAPTER_CONNECTION_FAILED',
    remediation: 'The sales agent failed to answer; check its logs, then test again.',
  },
  UPSTREAM_MALFORMED: {
    errorCode: 'ADAPTER_INVALID_CONFIG',
    remediation: 'upstreamUrl must be the base URL of a sales agent that serves /api/v1/tenant-management.',
  },
}

/** The AGENT probe of a managed tenant's MCP endpoint as one check; null: not probed (the tenant read failed). */
function mcpEndpointCheck(probe: AgentProbeResult | null): CapabilityCheck {
  if (probe === null) return { capability: 'mcp_endpoint', status: 'not_checked' }
  if (probe.ok) return { capability: 'mcp_endpoint', status: 'passed' }
  if (probe.failedCheck === 'authentication') {
    return {
      capability: 'mcp_endpoint',
      status: 'failed',
      message: probe.message,
      errorCode: 'ADAPTER_INVALID_CREDENTIALS',
      remediation: 'Rotate the tenant principal\'s token with PUT /inventory-sources/{sourceId} and agentAccessToken, then test again.',
    }
  }
  return {
    capability: 'mcp_endpoint',
    status: 'failed',
    message: probe.message,
    errorCode: probe.reason === 'AGENT_NOT_COMPLIANT' ? 'ADAPTER_INVALID_CONFIG' : 'ADAPTER_CONNECTION_FAILED',
    remediation: 'Check that the tenant\'s sales agent serves AdCP over MCP at mcpUrl (PUT /inventory-sources/{sourceId} moves it), then test again.',
  }
}

/**
 * A managed source's test: one read of the tenant status, then the tenant's own ad-server
 * connection, then, when the source carries its tenant's MCP endpoint (`endpoint` given), the
 * AGENT probe of it: it does not depend on the ad server, so it is checked whenever the tenant was read.
 */
export function managedConnectionTest(read: UpstreamResult<TenantStatusRead>, testedAt: Date, endpoint?: AgentProbeResult | null): ConnectionTestOutcome {
  const endpointChecks = endpoint === undefined ? [] : [mcpEndpointCheck(read.ok ? endpoint : null)]
  if (!read.ok) {
    const failure = TENANT_FAILURES[read.reason]
    const errorCode = read.reason === 'UPSTREAM_CREDENTIAL_REJECTED' && read.httpStatus === 403 ? 'ADAPTER_PERMISSION_DENIED' : failure.errorCode
    return answer([
      { capability: 'tenant_status', status: 'failed', message: read.message, errorCode, remediation: failure.remediation },
      { capability: 'ad_server', status: 'not_checked' },
      ...endpointChecks,
    ], testedAt, read.reason)
  }
  const { adapter } = read.value.wire
  const adServer: CapabilityCheck = adapter.connected
    ? { capability: 'ad_server', status: 'passed', message: `The tenant's ad server (${oneLine(adapter.type)}) is connected.` }
    : {
      capability: 'ad_server',
      status: 'failed',
      message: `The tenant's ad server (${oneLine(adapter.type)}) is not connected${adapter.last_test_error ? `: ${oneLine(adapter.last_test_error)}` : ''}.`,
      errorCode: 'ADAPTER_CONNECTION_FAILED',
      remediation: 'Connect the ad server in the sales agent (its adapter settings), then test again.',
    }
  const probe = endpoint ?? null
  const reason = adServer.status === 'passed' && probe !== null && !probe.ok ? probe.reason : undefined
  return answer([{ capability: 'tenant_status', status: 'passed' }, adServer, ...endpointChecks], testedAt, reason)
}
