import type { SandboxReset } from '../http/routes/sandbox.ts'
import { reportFailure } from './failure.ts'
import { apiClientFromEnv } from './http-client.ts'
import { terminalJson } from './table.ts'
import { SANDBOX_USAGE } from './usage.ts'

/** `storefront sandbox reset [--json]`: POST /sandbox/reset of STOREFRONT_URL with the operator key STOREFRONT_API_KEY. */
export async function sandboxCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv
  const json = rest.includes('--json')
  const unknown = rest.filter((arg) => arg !== '--json')
  if (verb !== 'reset' || unknown.length > 0) {
    console.error(`${verb === 'reset' ? `Unknown option: ${unknown[0]}` : `Unknown sandbox verb: ${verb ?? '(none)'}`}\n\n${SANDBOX_USAGE}`)
    return 2
  }
  try {
    const reset = await apiClientFromEnv().request<SandboxReset>('POST', '/sandbox/reset', { json: {} })
    if (json) console.log(terminalJson(reset))
    else {
      const { mediaBuys, accounts, idempotencyRecords, tasks } = reset.deleted
      console.log(`Sandbox reset: deleted ${mediaBuys} media buys, ${accounts} accounts, ${tasks} tasks and ${idempotencyRecords} replay records; source ${reset.sourceId} rebuilt.`)
    }
    return 0
  } catch (error) {
    return reportFailure(error)
  }
}
