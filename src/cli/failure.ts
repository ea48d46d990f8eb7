import { isStorefrontError, type ErrorDetails } from '../shared/errors.ts'
import { ApiError, ServerUnreachableError } from './http-client.ts'
import { terminalText } from './table.ts'

/**
 * The CLI's one map from a failure to its exit code:
 *   0 ok; 1 failure (server unreachable, 5xx, anything unexpected);
 *   2 bad usage, bad configuration or invalid input (VALIDATION_ERROR, feed row errors);
 *   3 refused by the server or database (401, 403, 404, 409, 413, a locked data dir).
 */
export function exitCodeOf(error: unknown): 1 | 2 | 3 {
  if (isUsageError(error) || isConfigError(error)) return 2
  if (error instanceof ServerUnreachableError) return 1
  if (error instanceof ApiError) return error.status >= 500 ? 1 : error.code === 'VALIDATION_ERROR' ? 2 : 3
  if (isStorefrontError(error)) return error.code === 'VALIDATION_ERROR' ? 2 : 3
  return 1
}

/**
 * By name, never by class: the parser's UsageError is main.ts's, which imports this file, and the
 * configuration's ConfigError (config.ts) is not imported here so that the REST client verbs never load
 * zod and the configuration.
 */
function isUsageError(error: unknown): error is Error {
  return error instanceof Error && (error.name === 'UsageError' || error.name === 'CliUsageError')
}

function isConfigError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ConfigError'
}

/** The lines that explain an error answer: its code and message, then its row and field details. */
export function failureLines(error: ApiError | { code: string; message: string; details?: ErrorDetails | undefined }): string[] {
  const details = error.details ?? {}
  return [
    terminalText(`${error.code}: ${error.message}`),
    ...(details.rows ?? []).map((row) => terminalText(`  row ${row.row} ${row.field}: ${row.message}`)),
    ...(details.issues ?? []).map((issue) => terminalText(`  ${issue.path}: ${issue.message}`)),
  ]
}

/**
 * Prints a failure to stderr and returns its exit code. A usage error is one line that names the
 * command (`storefront work start`) and where its help is, never the whole usage.
 */
export function reportFailure(error: unknown, command = 'storefront'): number {
  const exitCode = exitCodeOf(error)
  if (error instanceof ApiError || isStorefrontError(error)) console.error(failureLines(error).join('\n'))
  else if (isUsageError(error)) {
    console.error(`${command}: ${error.message} (see ${command} --help)`)
  } else console.error(error instanceof Error ? error.message : String(error))
  return exitCode
}
