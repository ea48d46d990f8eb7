import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ESLint } from 'eslint'

// The layering rules are lint rules: these cases pin what eslint.config.js refuses and allows.
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname })

async function restrictedImports(filePath: string, code: string): Promise<number[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return result!.messages.filter((message) => message.ruleId === '@typescript-eslint/no-restricted-imports').map((message) => message.line)
}

async function deepModuleImports(filePath: string, code: string): Promise<number[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return result!.messages.filter((message) => message.ruleId === 'storefront/module-boundaries').map((message) => message.line)
}

const sqlImports = [
  "import { sql } from 'kysely'",
  "import type { Kysely } from 'kysely'",
  "import { json } from '../db/database.ts'",
  "import type { Queryable } from '../db/database.ts'",
  'export const values = [sql, json] as const',
  'export type Handles = Kysely<unknown> | Queryable',
  '',
].join('\n')

describe('layering lint rules', () => {
  it('refuses kysely, its sql template and src/db values in a workflow, and allows src/db types', async () => {
    assert.deepEqual(await restrictedImports('src/workflows/new-workflows.ts', sqlImports), [1, 2, 3])
  })

  for (const folder of ['http', 'cli', 'mcp']) {
    it(`refuses kysely and src/db values in src/${folder}, and allows src/db types`, async () => {
      assert.deepEqual(await restrictedImports(`src/${folder}/new-entry.ts`, sqlImports), [1, 2, 3])
    })
  }

  it('lets a module store hold its SQL', async () => {
    assert.deepEqual(await restrictedImports('src/modules/work-queue/new-store.ts', sqlImports.replaceAll('../db/', '../../db/')), [])
  })

  describe('a module is imported through its index.ts', () => {
    it('refuses a workflow importing a file of a module, type imports and re-exports included', async () => {
      const code = [
        "import { openWorkItem } from '../modules/work-queue/work-item-store.ts'",
        "import type { Actor } from '../modules/work-queue/work-item-store.ts'",
        "export { HOLD_MINUTES_DEFAULT } from '../modules/booking-ledger/ledger.schema.ts'",
        "import { cancelWorkItem, type WorkItemKind } from '../modules/work-queue/index.ts'",
        "import { findContract } from '../modules/registry.ts'",
        'export const uses = [openWorkItem, cancelWorkItem, findContract]',
        'export type Uses = Actor | WorkItemKind',
        '',
      ].join('\n')
      assert.deepEqual(await deepModuleImports('src/workflows/new-workflows.ts', code), [1, 2, 3])
    })

    it('refuses a module importing a file of a sibling module, and allows its own files and the sibling index.ts', async () => {
      const code = [
        "import { openWorkItem } from '../work-queue/work-item-store.ts'",
        "import { cancelWorkItem } from '../work-queue/index.ts'",
        "import { insertBooking } from './booking-store.ts'",
        "import type { ModuleContract } from '../contract.ts'",
        'export const uses = [openWorkItem, cancelWorkItem, insertBooking]',
        'export type Uses = ModuleContract',
        '',
      ].join('\n')
      assert.deepEqual(await deepModuleImports('src/modules/execution/new-store.ts', code), [1])
    })

    it('treats each provider folder as a module: its siblings and the registry go through its index.ts', async () => {
      const provider = [
        "import { cadentTraffickingContract } from '../cadent/contract.ts'",
        "import { manualProvider } from '../manual/index.ts'",
        "import { replaceDelivery } from '../../delivery/delivery-store.ts'",
        "import { bookReservation } from '../../execution/index.ts'",
        "import { handoffPayload } from '../../handoff.ts'",
        "import { ownContract } from './contract.ts'",
        'export const uses = [cadentTraffickingContract, manualProvider, replaceDelivery, bookReservation, handoffPayload, ownContract]',
        '',
      ].join('\n')
      assert.deepEqual(await deepModuleImports('src/modules/catalog/new-provider/index.ts', provider), [1, 3])
      const registry = [
        "import { cadentProvider } from './catalog/cadent/index.ts'",
        "import { renderCampaignXml } from './catalog/cadent/render-campaign-xml.ts'",
        'export const uses = [cadentProvider, renderCampaignXml]',
        '',
      ].join('\n')
      assert.deepEqual(await deepModuleImports('src/modules/registry.ts', registry), [2])
    })

    it('lets a test reach into a module', async () => {
      assert.deepEqual(await deepModuleImports('test/execution/new.test.ts', "import { openWorkItem } from '../../src/modules/work-queue/work-item-store.ts'\nexport const uses = openWorkItem\n"), [])
    })
  })
})
