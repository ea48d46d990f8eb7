import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { AgentProbeTarget } from './agent-probe.ts'
import { adcpErrorIn, credentialFor, formatSeconds, networkErrorCode, ProbeFailure, redact, toolPayload, truncate } from './mcp-agent-probe.ts'

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000

/**
 * One AdCP task on an upstream agent (an AGENT source), over MCP with the source's stored
 * credential. Every call is a fresh stateless session bounded by one deadline (connect,
 * initialize, tools/call), so a slow agent costs at most the bound and never a stuck request.
 */
export type UpstreamCallResult =
  | { ok: true; payload: Record<string, unknown> }
  /** The agent answered with an AdCP error: the buyer's to read (code, message, field). */
  | { ok: false; kind: 'adcp_error'; code: string; message: string; field?: string | undefined; recovery?: string | undefined }
  /** The agent could not be asked, or did not answer in time (timedOut); the message never holds the credential. */
  | { ok: false; kind: 'unavailable'; message: string; timedOut?: boolean | undefined }

/** An AGENT source as the client asks it: how to reach it, and whose it is (the record of its traffic). */
export interface UpstreamAgentTarget extends AgentProbeTarget {
  storefrontId: number
  sourceRowId: number
}

export type UpstreamAgentClient = (target: UpstreamAgentTarget, tool: string, args: Record<string, unknown>) => Promise<UpstreamCallResult>

class UpstreamTimeout extends Error {}

export function createUpstreamAgentClient(options: { timeoutMs?: number | undefined } = {}): UpstreamAgentClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS
  return async (target, tool, args) => {
    let secrets: string[] = []
    try {
      if (target.protocol !== 'MCP') return { ok: false, kind: 'unavailable', message: 'Only MCP agents are asked; this source speaks A2A.' }
      const credential = credentialFor(target)
      secrets = credential.secrets
      return await callOnce(target.endpointUrl, credential.headers, tool, args, timeoutMs, secrets)
    } catch (error) {
      if (error instanceof ProbeFailure) return { ok: false, kind: 'unavailable', message: redact(error.message, secrets) }
      return { ok: false, kind: 'unavailable', message: redact(describe(error, target.endpointUrl, tool, timeoutMs), secrets), ...(error instanceof UpstreamTimeout ? { timedOut: true } : {}) }
    }
  }
}

async function callOnce(
  endpointUrl: string,
  headers: Record<string, string>,
  tool: string,
  args: Record<string, unknown>,
  timeoutMs: number,
  secrets: string[],
): Promise<UpstreamCallResult> {
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(new UpstreamTimeout()), timeoutMs)
  // The transport replaces any signal in requestInit with its own, so the deadline rides on fetch.
  const deadlineFetch = (input: string | URL, init?: RequestInit) =>
    fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal })
  const transport = new StreamableHTTPClientTransport(new URL(endpointUrl), {
    requestInit: { headers },
    fetch: deadlineFetch,
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
  })
  const client = new Client({ name: 'storefront-upstream', version: '1.0.0' }, { capabilities: {} })
  client.onerror = () => undefined
  const requestOptions = { signal: deadline.signal, timeout: Math.max(1, timeoutMs) }
  try {
    const work = (async () => {
      await client.connect(transport, requestOptions)
      return client.callTool({ name: tool, arguments: args }, undefined, requestOptions)
    })()
    work.catch(() => undefined)
    const result = await new Promise<Awaited<typeof work>>((resolve, reject) => {
      const onAbort = () => reject(new UpstreamTimeout())
      if (deadline.signal.aborted) return onAbort()
      deadline.signal.addEventListener('abort', onAbort, { once: true })
      work.then(resolve, reject).finally(() => deadline.signal.removeEventListener('abort', onAbort))
    })
    const payload = toolPayload(result)
    const adcpError = adcpErrorIn(payload)
    if (result.isError === true || (payload !== null && payload.adcp_error !== undefined)) {
      const detail = errorDetail(payload)
      return {
        ok: false,
        kind: 'adcp_error',
        code: adcpError?.code ?? 'SERVICE_UNAVAILABLE',
        message: redact(truncate(detail.message ?? `${tool} failed on the upstream agent`), secrets),
        field: detail.field,
        recovery: detail.recovery,
      }
    }
    if (payload === null) return { ok: false, kind: 'unavailable', message: `The agent answered ${tool} with no JSON object.` }
    return { ok: true, payload }
  } catch (error) {
    if (deadline.signal.aborted) throw new UpstreamTimeout()
    throw error
  } finally {
    clearTimeout(timer)
    // Bounded so a stuck peer cannot hold the buyer's request past its answer.
    await Promise.race([client.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500).unref())])
  }
}

function errorDetail(payload: Record<string, unknown> | null): { message?: string; field?: string; recovery?: string } {
  const candidates: unknown[] = payload ? [payload.adcp_error, payload.error, ...(Array.isArray(payload.errors) ? payload.errors : [])] : []
  for (const candidate of candidates) {
    if (candidate && typeof candidate === 'object') {
      const { message, field, recovery } = candidate as Record<string, unknown>
      return {
        ...(typeof message === 'string' ? { message } : {}),
        ...(typeof field === 'string' ? { field } : {}),
        ...(typeof recovery === 'string' ? { recovery } : {}),
      }
    }
  }
  return {}
}

function describe(error: unknown, endpointUrl: string, tool: string, timeoutMs: number): string {
  let host = 'the agent'
  try {
    host = new URL(endpointUrl).host
  } catch {
    return 'The endpoint URL is not a valid URL.'
  }
  if (error instanceof UpstreamTimeout) return `The agent at ${host} did not answer ${tool} within ${formatSeconds(timeoutMs)}.`
  if (error instanceof StreamableHTTPError) return `The agent at ${host} answered HTTP ${error.code ?? 'without a status'} on ${tool}.`
  const code = networkErrorCode(error)
  if (code === 'ECONNREFUSED') return `Nothing is listening at ${host} (connection refused).`
  if (code) return `Could not reach the agent at ${host} (${code}).`
  return `Could not complete ${tool} with the agent at ${host}.`
}
