import { createHash } from 'node:crypto'
import type { SignerKey } from '@adcp/sdk/signing/client'
import type { PublicJwk, WebhookSigningKey } from './signing-key.ts'

export {
  generateWebhookSigningKey,
  loadOrCreateWebhookSigningKey,
  newWebhookSigningKeyJson,
  parseWebhookSigningKey,
  WEBHOOK_KEY_ENV,
  WEBHOOK_KEY_FILE,
  WebhookKeyError,
  type WebhookSigningKey,
} from './signing-key.ts'
export { webhookUrlProblem } from './destination-rules.ts'
export { countWebhooksOfBuy, deleteSandboxWebhooks, enqueueWebhook, webhookStatsOfSource, type WebhookEvent, type WebhookStats } from './outbox-store.ts'
export {
  backoffDelayMs,
  createWebhookOutbox,
  isRetryableStatus,
  WEBHOOK_BACKOFF_BASE_MS,
  WEBHOOK_BACKOFF_CAP_MS,
  WEBHOOK_GIVE_UP_MS,
  type OutboxLogger,
  type OutboxPass,
  type WebhookOutbox,
} from './outbox.ts'

/**
 * Signed AdCP task webhooks to buyers' `push_notification_config.url`. Two senders share the one
 * key held here: the SDK's own emitter inside the MCP agent (the completion webhook of an answer
 * given at once), and `sendTaskWebhook`, which the persistent outbox (`outbox.ts`) calls for each
 * attempt of an event written in the transaction of the change it announces (a task completed
 * later, outside any MCP request).
 */
/** `push_notification_config.authentication` as the buyer sent it (the deprecated legacy switch). */
export interface WireWebhookAuthentication {
  schemes: string[]
  credentials: string
}

export interface TaskWebhook {
  url: string
  /** Present: the legacy Bearer / HMAC-SHA256 scheme the buyer registered, instead of RFC 9421. */
  authentication?: WireWebhookAuthentication | undefined
  /** The mcp-webhook-payload body (see `taskWebhookPayload`); the idempotency_key is added here. */
  payload: Record<string, unknown>
  /** One logical event (e.g. `create_media_buy.<task_id>`): every retry carries the same idempotency_key. */
  operation_id: string
  /**
   * Loopback and private destinations, and plain http: for sandbox keys only (their buyers run
   * local receivers). Otherwise the delivery resolves the host itself and refuses private
   * addresses at connect time, so a DNS answer changed after the request was accepted cannot
   * point a signed webhook at this network.
   */
  allowPrivateDestination?: boolean | undefined
  /** Attempts (default 5, backoff from 1 s) before the delivery is given up; the outbox sends 1 per claim. */
  maxAttempts?: number | undefined
  /** The event's key as the outbox stored it at enqueue; default: derived from operation_id. */
  idempotency_key?: string | undefined
  /** Bound of one attempt (connect, send, answer); default 10 s. A hanging receiver is a network error. */
  timeoutMs?: number | undefined
  /** Aborts the attempt (the outbox's sender stopping with its process): a transport error, retried. */
  signal?: AbortSignal | undefined
}

export interface TaskWebhookDelivery {
  delivered: boolean
  attempts: number
  idempotency_key: string
  final_status?: number | undefined
  /** Per attempt, without the URL's query or any credential. */
  errors: string[]
  /** The destination was refused by the SSRF policy (private address, plain http for a live key): never retried. */
  refused: boolean
}

export type TaskWebhookStatus = 'submitted' | 'working' | 'input-required' | 'completed' | 'failed' | 'canceled' | 'rejected'

/**
 * The mcp-webhook-payload envelope of one task state, the same shape the SDK sends for the tasks
 * it completes itself (task_id, task_type, status, timestamp, protocol, the buyer's `token`
 * echoed, `result` on completion, `result.errors` + `message` on failure).
 */
export function taskWebhookPayload(task: {
  task_id: string
  task_type: 'create_media_buy' | 'update_media_buy' | 'sync_creatives'
  status: TaskWebhookStatus
  timestamp: Date
  result?: Record<string, unknown> | undefined
  error?: { code: string; message: string; recovery?: string; field?: string } | undefined
  token?: string | undefined
}): Record<string, unknown> {
  return {
    task_id: task.task_id,
    task_type: task.task_type,
    status: task.status,
    timestamp: task.timestamp.toISOString(),
    protocol: 'media-buy',
    ...(task.token === undefined ? {} : { token: task.token }),
    ...(task.status === 'completed' && task.result ? { result: task.result } : {}),
    ...(task.status === 'failed' && task.error ? { result: { errors: [task.error] }, message: task.error.message } : {}),
  }
}

/**
 * The idempotency_key of a logical event, derived from its operation_id: the outbox stores it at
 * enqueue, and a second enqueue of the same event (which the outbox refuses) would have the same.
 */
export function webhookIdempotencyKey(operationId: string): string {
  return `whk_${createHash('sha256').update(operationId).digest('base64url').slice(0, 40)}`
}

function legacyAuthentication(auth: WireWebhookAuthentication | undefined) {
  if (!auth) return null
  const scheme = auth.schemes[0]
  if (scheme === 'Bearer') return { type: 'bearer' as const, token: auth.credentials }
  if (scheme === 'HMAC-SHA256') return { type: 'hmac_sha256' as const, secret: auth.credentials }
  throw new Error(`push_notification_config.authentication.schemes: ${String(scheme)} is not Bearer or HMAC-SHA256`)
}

/** Errors of a delivery without anything a log should not hold (query strings carry tokens). */
function scrub(message: string, url: string): string {
  const bare = url.split('?')[0] ?? url
  return message.split(url).join(bare)
}

const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000

/** A fetch whose every call gives up after `timeoutMs`: a receiver that never answers is a transport error. */
function withTimeout(base: typeof fetch, timeoutMs: number, stop: AbortSignal | undefined): typeof fetch {
  return (input, init) => base(input, { ...init, signal: stop ? AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]) : AbortSignal.timeout(timeoutMs) })
}

export function createBuyerWebhooks({ signingKey }: { signingKey: WebhookSigningKey | null }) {
  // The SDK's `webhooks.signerKey` shape (RFC 9421 ed25519).
  const signerKey: SignerKey | null = signingKey ? { keyid: signingKey.keyid, alg: 'ed25519', privateKey: signingKey.privateJwk as unknown as SignerKey['privateKey'] } : null
  // One pin-and-bind dispatcher per process for live destinations, made on first use.
  let liveFetch: typeof fetch | undefined
  return {
    /** Null when this process was started without a key (PostgreSQL without STOREFRONT_WEBHOOK_SIGNING_KEY). */
    signerKey,
    /** The JWKS published at /.well-known/jwks.json: public halves only. */
    jwks(): { keys: PublicJwk[] } {
      return { keys: signingKey ? [signingKey.publicJwk] : [] }
    },
    /**
     * Sends one signed task webhook, retrying 5xx / 429 / network failures with backoff; a 4xx is
     * final. Resolves with the outcome (it never throws for a receiver's failure), so a caller that
     * has committed its own state is not undone by a buyer's receiver.
     */
    async sendTaskWebhook(webhook: TaskWebhook): Promise<TaskWebhookDelivery> {
      if (!signerKey) throw new Error('no webhook signing key: this process was started without one')
      // The SDK is large; REST start-up and processes that never send a webhook do not load it.
      const { createWebhookEmitter, createPinAndBindFetch } = await import('@adcp/sdk/server')
      liveFetch ??= createPinAndBindFetch()
      const base = webhook.allowPrivateDestination ? globalThis.fetch : liveFetch
      const idempotencyKey = webhook.idempotency_key ?? webhookIdempotencyKey(webhook.operation_id)
      const emitter = createWebhookEmitter({
        signerKey,
        generateIdempotencyKey: () => idempotencyKey,
        fetch: withTimeout(base, webhook.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS, webhook.signal),
        retries: { maxAttempts: webhook.maxAttempts ?? 5 },
        userAgent: 'storefront-adcp-webhooks',
        suppressLegacyWarnings: true,
      })
      const result = await emitter.emit({
        url: webhook.url,
        payload: webhook.payload,
        operation_id: webhook.operation_id,
        authentication: legacyAuthentication(webhook.authentication),
      })
      return {
        delivered: result.delivered,
        attempts: result.attempts,
        idempotency_key: result.idempotency_key,
        ...(result.final_status === undefined ? {} : { final_status: result.final_status }),
        errors: result.errors.map((error) => scrub(error, webhook.url)),
        // The emitter reports the pin-and-bind refusal by its code in the transport error.
        refused: !result.delivered && result.final_status === undefined && result.errors.some((error) => error.includes('EADCP_SSRF_BLOCKED')),
      }
    },
  }
}

export type BuyerWebhooks = ReturnType<typeof createBuyerWebhooks>
