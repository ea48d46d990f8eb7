/**
 * The closed catalog of error codes. Domain code throws `StorefrontError`; each edge
 * (HTTP error handler, CLI exit code, MCP error) maps it exactly once.
 */
export const errorStatus = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  ACCESS_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  UPSTREAM_ERROR: 502,
} as const

export type ErrorCode = keyof typeof errorStatus

/** When each code is answered, as the API reference (OpenAPI) describes its status. */
export const errorCodeMeanings: Record<ErrorCode, string> = {
  VALIDATION_ERROR: 'The request is malformed: a field, parameter, header or body fails its rules (details.issues name each field, details.rows each feed or report row).',
  UNAUTHORIZED: 'The Authorization header carries no valid API key.',
  ACCESS_DENIED: 'The key is valid but may not do this; details.reason says why (WRONG_KEY_ROLE: a buyer key on the operator API).',
  NOT_FOUND: 'No such resource for this storefront: an unknown, foreign or wrong-kind id in the path or body.',
  CONFLICT: 'The request contradicts the current state (details.reason says how), or its Idempotency-Key was used for another request or is still in progress.',
  PAYLOAD_TOO_LARGE: 'The body, an uploaded file or the request headers exceed the server limit.',
  RATE_LIMITED: 'Too many requests or streams at once; retry after the Retry-After seconds.',
  INTERNAL_ERROR: 'The server failed; the request was not completed and may be retried. The server log has the cause.',
  UPSTREAM_ERROR: 'A system the storefront relies on (a managed sales agent, an upstream AdCP agent) failed or did not answer; details.reason says which way.',
}

/**
 * Machine-readable sub-codes carried in `details.reason`. Closed: add a line here
 * (with the sentence saying when it is used) before throwing a new one.
 */
export const errorReasons = {
  // Wire conventions
  IDEMPOTENCY_KEY_REUSED: 'The Idempotency-Key was already used with a different request.',
  IDEMPOTENCY_KEY_IN_PROGRESS: 'A request with this Idempotency-Key is still being processed.',
  WRONG_KEY_ROLE: 'The API key has the other role: operator keys open the REST API, buyer keys the AdCP agent at /mcp.',
  RATE_LIMIT_EXCEEDED: 'The API key sent more requests than RATE_LIMIT_MAX allows in RATE_LIMIT_WINDOW_MS (per server process); retry after Retry-After seconds.',
  METRICS_NOT_LOCAL: 'GET /metrics without METRICS_TOKEN set answers only requests made on this host (loopback, not through a proxy); set METRICS_TOKEN to scrape it from elsewhere.',
  SECRET_NOT_ALLOWED: 'A key of setup metadata or module config looks like a secret, or a URL carries credentials (user-info or a secret-looking query parameter); secrets use their write-only credential fields.',
  // Inventory sources
  DUPLICATE_SOURCE_ID: 'Another source on this storefront already uses the sourceId.',
  INVALID_STATUS_TRANSITION: 'The requested status change is not allowed.',
  AGENT_NOT_PROBED: 'The agent has not passed a live probe, so it cannot be activated.',
  AGENT_UNREACHABLE: 'The agent endpoint could not be reached with the stored credential.',
  AGENT_NOT_COMPLIANT: 'The agent answered but is not a compliant AdCP sales agent.',
  UNSUPPORTED_EXECUTION_TYPE: 'This operation is not available for the source execution type.',
  SOURCE_HAS_LIVE_RESERVATIONS: 'The source still has HELD or BOOKED reservations.',
  SOURCE_CHANGED_CONCURRENTLY: 'Another request changed the source\'s status while this update was being checked; read it and send the update again.',
  // Managed sales-agent tenants (the tenant-management API of the reference sales agent)
  UPSTREAM_UNREACHABLE: 'The managed sales agent could not be reached: connection refused or reset, DNS or TLS failure.',
  UPSTREAM_TIMEOUT: 'The managed sales agent did not answer within the time budget.',
  UPSTREAM_CREDENTIAL_REJECTED: 'The tenant-management API refused the stored apiKey (HTTP 401 or 403).',
  TENANT_NOT_FOUND: 'The managed sales agent has no tenant with this tenantId (HTTP 404).',
  UPSTREAM_HTTP_ERROR: 'The managed sales agent answered with another non-2xx HTTP status.',
  UPSTREAM_MALFORMED: 'The managed sales agent answered something that is not a tenant status: not JSON, too large, or not its shape.',
  // Modules
  MODULE_NOT_IN_CATALOG: 'No built-in module has this kind and provider.',
  DUPLICATE_MODULE_INSTANCE_ID: 'Another module on this source already uses the moduleInstanceId.',
  MODULE_HAS_OPEN_WORK: 'The module still has open work items.',
  STATUS_IS_DERIVED: 'ACTIVE is derived from the module setup and cannot be set.',
  DEMO_SOURCE_ID: 'Demo source ids must be talpa-cadent-demo or start with demo-.',
  // Avails feed
  FEED_ROW_ERRORS: 'One or more feed rows are invalid; nothing was written.',
  PREVIEW_NOT_FOUND: 'No preview with this id exists for the source.',
  PREVIEW_EXPIRED: 'The preview expired; preview the feed again.',
  PREVIEW_ALREADY_COMMITTED: 'The preview was already committed or replaced by a newer one.',
  NO_INVENTORY_FEED: 'The source has no ACTIVE inventory feed module, so it cannot take avails.',
  FEED_TOO_WIDE: 'A feed row has more columns than a feed may have; nothing was read past it.',
  FEED_PARSES_BUSY: 'As many feeds as the server reads at once are being read; retry after Retry-After seconds.',
  // Booking ledger
  NO_BOOKING_LEDGER: 'The source has no ACTIVE booking ledger module.',
  INSUFFICIENT_CAPACITY: 'The avail does not have enough available impressions.',
  RESERVATION_EXISTS: 'A live reservation for this media buy, avail and package exists with another amount.',
  AVAIL_NOT_SELLABLE: 'The avail is inactive or its flight has ended.',
  // Execution hand-off and work items
  NO_HELD_RESERVATION: 'No HELD reservation matches the media buy and avail.',
  NO_EXECUTION_MODULE: 'The source has no ACTIVE trafficking module.',
  WORK_ITEM_TERMINAL: 'The work item is COMPLETED or CANCELLED and cannot change.',
  MISSING_RESULT_KEYS: 'The completion result lacks required keys.',
  REPORT_ROW_ERRORS: 'One or more final-report rows are invalid; nothing was imported.',
  NO_BOOKING_FOR_ITEM: 'The work item names no finalized booking, so its side effect cannot run and no follow-up of it can be opened.',
  NO_FOLLOW_UP_FOR_KIND: 'The work item is of a kind done once per line; only a delivery report (UPLOAD_FINAL_REPORT) is opened again, for a later report of the same line.',
  LINE_ENDED: 'The booking of the work item\'s line was released or expired, so the line takes no further delivery report.',
  FOLLOW_UP_ALREADY_OPEN: 'The line already has an open item of this kind (details.openWorkItemId): complete or cancel it before opening another.',
  // Media buys (AdCP create_media_buy / update_media_buy)
  PRODUCT_NOT_FOUND: 'No sellable product has this product_id for the buyer key.',
  PRICING_OPTION_NOT_FOUND: 'The product has no pricing option with this pricing_option_id.',
  BUDGET_TOO_LOW: 'The package budget buys no impression at the product CPM.',
  TERMS_REJECTED: 'The package measurement_terms name a window or variance the storefront cannot bill on.',
  CURRENCY_MISMATCH: 'The packages of one media buy are priced in different currencies.',
  MEDIA_BUY_NOT_FOUND: 'The buyer key has no media buy with this media_buy_id.',
  PACKAGE_NOT_FOUND: 'The media buy has no package with this package_id.',
  MEDIA_BUY_NOT_CANCELLABLE: 'The media buy was already canceled.',
  INVALID_MEDIA_BUY_TRANSITION: 'The media buy status does not allow the requested change.',
  REVISION_MISMATCH: 'The media buy changed since the revision the request names.',
  // Upstream AdCP agents (ACTIVE AGENT sources sold through /mcp)
  SANDBOX_SUPPLY_TAKEN: 'Another AGENT source of this storefront is its ACTIVE sandbox supply; disable it before activating this one.',
  SOURCE_HAS_FORWARDED_BUYS: 'Media buys were forwarded to this AGENT source; buyers still reach them through it, so it can be disabled but not deleted.',
  PACKAGES_SPAN_SOURCES: 'The packages of one media buy name products of an upstream agent and of another source; one buy lives in one place.',
  UPSTREAM_AGENT_REFUSED: 'The upstream AdCP agent refused the forwarded task; details carry its AdCP error code.',
  UPSTREAM_AGENT_UNAVAILABLE: 'The upstream AdCP agent could not be asked, or did not answer within UPSTREAM_AGENT_TIMEOUT_MS.',
  // Live events (the work-item change stream)
  LIVE_EVENTS_FULL: 'This server process already streams live events to as many subscribers as LIVE_EVENTS_MAX_SUBSCRIBERS allows; retry after Retry-After seconds.',
  // Embedded database
  DATA_DIR_LOCKED: 'Another process owns the embedded database directory.',
} as const

export type ErrorReason = keyof typeof errorReasons

export interface ValidationIssue {
  path: string
  message: string
}

export interface RowIssue {
  row: number
  field: string
  message: string
}

export interface ErrorDetails {
  reason?: ErrorReason
  issues?: ValidationIssue[]
  rows?: RowIssue[]
  [extra: string]: unknown
}

export class StorefrontError extends Error {
  readonly code: ErrorCode
  readonly details: ErrorDetails | undefined

  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    super(message)
    this.name = 'StorefrontError'
    this.code = code
    this.details = details
  }

  get statusCode(): number {
    return errorStatus[this.code]
  }
}

export function isStorefrontError(error: unknown): error is StorefrontError {
  return error instanceof StorefrontError
}

/** The one message of an unknown or foreign media buy (see `fail.mediaBuyNotFound`). */
export const MEDIA_BUY_NOT_FOUND_MESSAGE = 'Media buy not found for this buyer key'

export const fail = {
  validation(message: string, details?: ErrorDetails): StorefrontError {
    return new StorefrontError('VALIDATION_ERROR', message, details)
  },
  /** A field-level validation error, shaped like schema validation errors. */
  invalidField(path: string, message: string, reason?: ErrorReason): StorefrontError {
    return new StorefrontError('VALIDATION_ERROR', `${path}: ${message}`, {
      ...(reason ? { reason } : {}),
      issues: [{ path, message }],
    })
  },
  notFound(what: string): StorefrontError {
    return new StorefrontError('NOT_FOUND', `${what} not found`)
  },
  /**
   * A media buy the buyer key does not own, missing or another key's: the same words either way, and
   * never the id asked for, so the answer reads byte for byte like any other unknown id's (AdCP's
   * uniform-error rule: a foreign object is indistinguishable from a missing one).
   */
  mediaBuyNotFound(): StorefrontError {
    return new StorefrontError('NOT_FOUND', MEDIA_BUY_NOT_FOUND_MESSAGE, { reason: 'MEDIA_BUY_NOT_FOUND' })
  },
  conflict(reason: ErrorReason, message: string, extra?: Record<string, unknown>): StorefrontError {
    return new StorefrontError('CONFLICT', message, { reason, ...extra })
  },
  tooLarge(message: string): StorefrontError {
    return new StorefrontError('PAYLOAD_TOO_LARGE', message)
  },
  accessDenied(reason: ErrorReason, message: string): StorefrontError {
    return new StorefrontError('ACCESS_DENIED', message, { reason })
  },
  unauthorized(): StorefrontError {
    return new StorefrontError('UNAUTHORIZED', 'Missing or invalid API key')
  },
}
