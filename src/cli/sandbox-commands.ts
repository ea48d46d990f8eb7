import type { SandboxReset } from '../http/routes/sandbox.ts'
import { flagOption, type Invocation } from './commands.ts'
import { apiClientFromEnv } from './http-client.ts'
import { terminalJson } from './table.ts'

/** `storefront sandbox reset [--json]`: POST /sandbox/reset of STOREFRONT_URL with the operator key STOREFRONT_API_KEY. */
export async function sandboxReset(input: Invocation): Promise<number> {
  const reset = await apiClientFromEnv().request<SandboxReset>('POST', '/sandbox/reset', { json: {} })
  if (flagOption(input, 'json')) console.log(terminalJson(reset))
  else {
    const { mediaBuys, accounts, idempotencyRecords, tasks } = reset.deleted
    console.log(`Sandbox reset: deleted ${mediaBuys} media buys, ${accounts} accounts, ${tasks} tasks and ${idempotencyRecords} replay records; source ${reset.sourceId} rebuilt.`)
  }
  return 0
}
