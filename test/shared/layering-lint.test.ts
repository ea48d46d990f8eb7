import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ESLint } from 'eslint'

// The layering rules are lint rules: these cases pin what eslint.config.js refuses and allows.
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname })

async function restrictedImports(filePath: string, code: string): Promise<number[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return result!.messages.filter((message) => message.ruleId === '@typescript-eslint/no-restricted-imports').map((message) => message.line)
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
})
