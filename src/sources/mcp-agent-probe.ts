import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import type { AgentProbe, AgentProbeResult, AgentProbeTarget, ProbeCheck } from './agent-probe.ts'

export const DEFAULT_PROBE_TIMEOUT_MS = 10_000

/**
 * Tools a sales agent must list, from AdCP "Required tasks by protocol" (media buy, seller).
 * `provide_performance_feedback` is required there too but is left out on purpose: the
 * reference sales agent (prebid/salesagent) does not expose it, and the storefront never
 * calls it when routing buys, so requiring it would refuse the most common upstream agent.
 */
export const REQUIRED_SALES_AGENT_TOOLS = [
  'get_adcp_capabilities',
  'get_products',
  'create_media_buy',
  'update_media_buy',
  'get_media_buys',
  'get_media_buy_delivery',
] as const

/** AdCP (since 3.0.9) requires at least one of these; buys name an account, so we need it. */
export const ACCOUNT_TOOLS = ['list_accounts', 'sync_accounts'] as const

/** AdCP error codes that mean the credential, not the agent, is the problem. */
const CREDENTIAL_ERROR_CODES = new Set(['AUTH_REQUIRED', 'AUTH_MISSING', 'AUTH_INVALID', 'PERMISSION_DENIED', 'UNAUTHORIZED', 'FORBIDDEN'])

const MAX_TOOL_PAGES = 20
const MAX_UPSTREAM_TEXT = 200

export interface LiveAgentProbeOptions {
  /** Budget for the whole probe: connect, initialize, list tools, call get_adcp_capabilities. */
  timeoutMs?: number
}

type Failure = Extract<AgentProbeResult, { ok: false }>
type FailureReason = Failure['reason']

/** A probe outcome decided somewhere deep in the call chain; caught once at the top. */
export class ProbeFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    readonly failedCheck?: ProbeCheck,
  ) {
    super(message)
  }
}

class ProbeTimeout extends Error {}

export interface Credential {
  headers: Record<string, string>
  /** Every form in which the secret could travel, so no message can ever carry it. */
  secrets: string[]
}

/**
 * The live AdCP agent probe: over MCP it connects with the stored credential, lists tools
 * and calls get_adcp_capabilities; it never reports a pass it did not observe.
 */
export function createLiveAgentProbe(options: LiveAgentProbeOptions = {}): AgentProbe {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS
  return async (target) => {
    let secrets: string[] = []
    try {
      if (target.protocol === 'A2A') {
        throw new ProbeFailure(
          'AGENT_NOT_PROBED',
          'A2A probing is not supported yet: AdCP does not pin down how an A2A agent card declares the media-buy tasks, so the agent cannot be checked. Register the agent over MCP to activate it.',
        )
      }
      const credential = credentialFor(target)
      secrets = credential.secrets
      await probeMcp(target.endpointUrl, credential, timeoutMs)
      return { ok: true, checkedAt: new Date() }
    } catch (error) {
      const failure = error instanceof ProbeFailure ? error : new ProbeFailure('AGENT_UNREACHABLE', 'The probe failed unexpectedly while talking to the agent.')
      return {
        ok: false,
        checkedAt: new Date(),
        reason: failure.reason,
        message: redact(failure.message, secrets),
        ...(failure.failedCheck ? { failedCheck: failure.failedCheck } : {}),
      }
    }
  }
}

/** Headers as the AdCP convention wants them, or a refusal when this credential cannot be probed. */
export function credentialFor(target: AgentProbeTarget): Credential {
  const { auth, authenticationType } = target
  if (authenticationType === 'OAUTH') {
    throw new ProbeFailure('AGENT_NOT_PROBED', 'OAuth agents cannot be probed yet: the storefront has no OAuth authorization flow to obtain a token with.')
  }
  if (auth === null) {
    if (authenticationType === 'NO_AUTH') return { headers: {}, secrets: [] }
    throw new ProbeFailure('AGENT_NOT_PROBED', `No credential is stored for this ${authenticationType} source; send auth before activating it.`)
  }
  switch (auth.type) {
    case 'bearer':
    case 'apikey':
    case 'api_key':
      // AdCP: Authorization: Bearer is canonical; x-adcp-auth is the transitional alias the
      // salesagent lineage still reads, and the official AdCP client sends both.
      return { headers: { authorization: `Bearer ${auth.token}`, 'x-adcp-auth': auth.token }, secrets: [auth.token] }
    case 'basic': {
      const encoded = Buffer.from(`${auth.username}:${auth.password}`).toString('base64')
      return { headers: { authorization: `Basic ${encoded}` }, secrets: [auth.password, encoded] }
    }
    case 'jwt':
      // The token exchange (grant type, assertion audience, token response) is not specified
      // by AdCP or the storefront reference, and a guessed exchange that fails would blame a
      // good credential.
      throw new ProbeFailure(
        'AGENT_NOT_PROBED',
        'JWT probing is not supported yet: the storefront cannot exchange a client-assertion JWT at tokenEndpointUrl, so the agent cannot be checked with this credential.',
      )
  }
}

async function probeMcp(endpointUrl: string, credential: Credential, timeoutMs: number): Promise<void> {
  const url = parseUrl(endpointUrl)
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(new ProbeTimeout()), timeoutMs)
  // The transport replaces any signal in requestInit with its own, so the deadline rides on fetch.
  const deadlineFetch = (input: string | URL, init?: RequestInit) =>
    fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal })
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: credential.headers },
    fetch: deadlineFetch,
    // A probe answers now; it does not wait for a dropped stream to come back.
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
  })
  const client = new Client({ name: 'storefront-agent-probe', version: '1.0.0' }, { capabilities: {} })
  // Background stream errors (the optional GET stream) are not probe outcomes.
  client.onerror = () => undefined
  const requestOptions = () => ({ signal: deadline.signal, timeout: Math.max(1, timeoutMs) })
  const stage = { name: 'MCP initialize' as 'MCP initialize' | 'tools/list' | 'get_adcp_capabilities' }

  try {
    await raceDeadline(
      (async () => {
        await client.connect(transport, requestOptions())
        stage.name = 'tools/list'
        const tools = await listToolNames(client, requestOptions)
        const missingTools = missingRequiredTools(tools)
        if (!tools.has('get_adcp_capabilities')) {
          throw new ProbeFailure('AGENT_NOT_COMPLIANT', `The agent is not an AdCP sales agent: tools/list is missing ${missingTools.join(', ')}.`)
        }
        stage.name = 'get_adcp_capabilities'
        const result = await client.callTool({ name: 'get_adcp_capabilities', arguments: {} }, undefined, requestOptions())
        const problems = [...capabilityProblems(result)]
        if (missingTools.length > 0) problems.push(`tools/list is missing ${missingTools.join(', ')}`)
        if (problems.length > 0) {
          throw new ProbeFailure('AGENT_NOT_COMPLIANT', `The agent is not a compliant AdCP sales agent: ${problems.join('; ')}.`)
        }
      })(),
      deadline.signal,
    )
  } catch (error) {
    if (error instanceof ProbeFailure) throw error
    throw classify(error, { url, stage: stage.name, timedOut: deadline.signal.aborted, timeoutMs, sentCredential: Object.keys(credential.headers).length > 0 })
  } finally {
    clearTimeout(timer)
    // A stateful agent keeps a session per initialize; end ours rather than leave it to expire.
    if (!deadline.signal.aborted && transport.sessionId) {
      await Promise.race([transport.terminateSession().catch(() => undefined), delay(500)])
    }
    // Closing aborts any open stream; bounded so a stuck peer cannot hold activation.
    await Promise.race([client.close().catch(() => undefined), delay(1000)])
  }
}

function parseUrl(endpointUrl: string): URL {
  try {
    return new URL(endpointUrl)
  } catch {
    throw new ProbeFailure('AGENT_UNREACHABLE', 'The endpoint URL is not a valid URL.')
  }
}

async function listToolNames(client: Client, requestOptions: () => { signal: AbortSignal; timeout: number }): Promise<Set<string>> {
  const names = new Set<string>()
  let cursor: string | undefined
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    const result = await client.listTools(cursor ? { cursor } : undefined, requestOptions())
    for (const tool of result.tools) names.add(tool.name)
    cursor = result.nextCursor
    if (!cursor) break
  }
  return names
}

function missingRequiredTools(tools: Set<string>): string[] {
  const missing: string[] = REQUIRED_SALES_AGENT_TOOLS.filter((name) => !tools.has(name))
  if (!ACCOUNT_TOOLS.some((name) => tools.has(name))) missing.push(`one of ${ACCOUNT_TOOLS.join(' or ')}`)
  return missing
}

/** What is wrong with a get_adcp_capabilities result; throws when the answer means the credential was refused. */
function capabilityProblems(result: Awaited<ReturnType<Client['callTool']>>): string[] {
  const payload = toolPayload(result)
  const adcpError = adcpErrorIn(payload)
  if (adcpError && CREDENTIAL_ERROR_CODES.has(adcpError.code)) {
    throw new ProbeFailure('AGENT_UNREACHABLE', `The agent rejected the credential: get_adcp_capabilities answered ${adcpError.code}.`, 'authentication')
  }
  if (result.isError === true) {
    const detail = adcpError ? adcpError.code : truncate(textOf(result) ?? 'no detail')
    return [`get_adcp_capabilities returned an error (${detail})`]
  }
  if (payload === null) return ['get_adcp_capabilities returned no JSON object (neither structuredContent nor JSON text content)']

  const problems: string[] = []
  const protocols = payload.supported_protocols
  if (!Array.isArray(protocols)) problems.push('get_adcp_capabilities has no supported_protocols array')
  else if (!protocols.includes('media_buy')) {
    const declared = protocols.filter((p): p is string => typeof p === 'string').map((p) => truncate(p, 40))
    problems.push(`supported_protocols does not include media_buy (declared: ${declared.join(', ') || 'none'})`)
  }
  const adcp = payload.adcp
  const majors = isRecord(adcp) ? adcp.major_versions : undefined
  if (!Array.isArray(majors) || majors.length === 0 || !majors.every((v) => Number.isInteger(v))) {
    problems.push('get_adcp_capabilities has no adcp.major_versions')
  }
  return problems
}

/** AdCP over MCP puts the response in structuredContent; older agents send it as JSON text. */
export function toolPayload(result: Awaited<ReturnType<Client['callTool']>>): Record<string, unknown> | null {
  if (isRecord(result.structuredContent)) return result.structuredContent
  const text = textOf(result)
  if (text === undefined) return null
  try {
    const parsed: unknown = JSON.parse(text)
    return isRecord(parsed) ? parsed : null
  } catch {
    return null
  }
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string | undefined {
  const content = Array.isArray(result.content) ? result.content : []
  for (const part of content) {
    if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') return part.text
  }
  return undefined
}

/** The first AdCP error code in a payload: `adcp_error`, `error` or `errors[]`. */
export function adcpErrorIn(payload: Record<string, unknown> | null): { code: string } | null {
  if (!payload) return null
  const candidates: unknown[] = [payload.adcp_error, payload.error, ...(Array.isArray(payload.errors) ? payload.errors : [])]
  for (const candidate of candidates) {
    if (isRecord(candidate) && typeof candidate.code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(candidate.code)) {
      return { code: candidate.code }
    }
  }
  return null
}

/** Maps a transport or protocol error to a reason and a message an operator can act on. */
function classify(
  error: unknown,
  context: { url: URL; stage: string; timedOut: boolean; timeoutMs: number; sentCredential: boolean },
): ProbeFailure {
  const where = context.url.host
  if (context.timedOut || error instanceof ProbeTimeout || (error instanceof McpError && error.code === ErrorCode.RequestTimeout)) {
    return new ProbeFailure('AGENT_UNREACHABLE', `The agent at ${where} did not answer ${context.stage} within ${formatSeconds(context.timeoutMs)}.`)
  }
  if (error instanceof StreamableHTTPError) {
    const status = error.code ?? -1
    if ((status === 401 || status === 403) && !context.sentCredential) {
      return new ProbeFailure('AGENT_UNREACHABLE', `The agent requires a credential (HTTP ${status}) and this source sends none; set authenticationType and auth.`, 'authentication')
    }
    if (status === 401 || status === 403) {
      return new ProbeFailure('AGENT_UNREACHABLE', `The agent rejected the credential (HTTP ${status}); check the source's auth.`, 'authentication')
    }
    if (status === -1) {
      return new ProbeFailure('AGENT_NOT_COMPLIANT', `The endpoint at ${where} answered ${context.stage} with a content type that is not MCP Streamable HTTP.`)
    }
    if (status === 405 || status === 406 || status === 415) {
      return new ProbeFailure('AGENT_NOT_COMPLIANT', `The endpoint at ${where} does not speak MCP Streamable HTTP (HTTP ${status} on ${context.stage}).`)
    }
    if (status >= 300 && status < 400) {
      return new ProbeFailure('AGENT_UNREACHABLE', `The endpoint at ${where} redirected to another origin (HTTP ${status}); set endpointUrl to the agent's final MCP URL.`)
    }
    return new ProbeFailure('AGENT_UNREACHABLE', `The endpoint at ${where} answered HTTP ${status} on ${context.stage}.`)
  }
  if (error instanceof McpError) {
    // The peer speaks JSON-RPC but refused a step every AdCP agent must support.
    return new ProbeFailure('AGENT_NOT_COMPLIANT', `The agent failed ${context.stage}: MCP error ${error.code} (${truncate(error.message)}).`)
  }
  const code = networkErrorCode(error)
  if (code === 'ECONNREFUSED') return new ProbeFailure('AGENT_UNREACHABLE', `Nothing is listening at ${where} (connection refused).`)
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ProbeFailure('AGENT_UNREACHABLE', `The host name ${context.url.hostname} does not resolve (${code}).`)
  if (code && /CERT|TLS|SSL|SIGNATURE/.test(code)) return new ProbeFailure('AGENT_UNREACHABLE', `The TLS connection to ${where} failed (${code}).`)
  if (code) return new ProbeFailure('AGENT_UNREACHABLE', `Could not reach the agent at ${where} (${code}).`)
  const cause = isRecord(error) && error.cause instanceof Error ? error.cause.message : undefined
  if (error instanceof TypeError && cause) return new ProbeFailure('AGENT_UNREACHABLE', `Could not reach the agent at ${where} (${truncate(cause, 80)}).`)
  if (error instanceof SyntaxError) {
    return new ProbeFailure('AGENT_NOT_COMPLIANT', `The endpoint at ${where} answered ${context.stage} with something that is not MCP JSON-RPC.`)
  }
  return new ProbeFailure('AGENT_UNREACHABLE', `Could not complete ${context.stage} with the agent at ${where}.`)
}

/** Node's fetch hides the socket error code in a chain of causes. */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 6 && isRecord(current); depth++) {
    if (typeof current.code === 'string') return current.code
    current = current.cause
  }
  return undefined
}

function raceDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  // The backstop if a step ignores its signal; the loser's rejection is swallowed.
  work.catch(() => undefined)
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(new ProbeTimeout())
    const onAbort = () => reject(new ProbeTimeout())
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

export function redact(message: string, secrets: string[]): string {
  let safe = message
  for (const secret of secrets) {
    if (secret.length > 0) safe = safe.split(secret).join('[redacted]')
  }
  return safe
}

export function truncate(text: string, max = MAX_UPSTREAM_TEXT): string {
  const oneLine = text.replace(/\s+/g, ' ').trim()
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine
}

export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
