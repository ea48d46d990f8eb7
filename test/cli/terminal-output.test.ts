import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { renderTable, terminalJson, terminalText } from '../../src/cli/table.ts'
import { createDemo, DEMO, finalize, reserve } from '../execution/helpers.ts'
import { createTestContext, type TestContext } from '../helpers/context.ts'
import { runCli } from '../helpers/processes.ts'

// ESC (C0) starts every terminal escape; U+009B is the one-character C1 CSI some terminals obey.
function assertNoRawEscape(text: string): void {
  for (const character of ['\u001b', '\u009b', '\u0007']) assert.ok(!text.includes(character), `raw U+${character.charCodeAt(0).toString(16)} printed`)
}

describe('the CLI never prints raw terminal escapes from stored data', () => {
  describe('renderTable, terminalText and terminalJson', () => {
    it('shows control characters as visible escapes and pads by what is shown', () => {
      assert.equal(terminalText('a\u001b[2Jb\u009bc\n'), 'a\\u001b[2Jb\\u009bc\\u000a')
      const table = renderTable(['name'], [['x\u001b]0;t\u0007']])
      assertNoRawEscape(table)
      assert.equal(table.split('\n')[2], 'x\\u001b]0;t\\u0007')
      assert.equal(table.split('\n')[1], '-'.repeat('x\\u001b]0;t\\u0007'.length))
    })

    it('escapes DEL and C1 in JSON output, which JSON.stringify writes raw, and keeps it valid JSON', () => {
      const text = terminalJson({ title: 'a\u009b31m\u007f' })
      assert.doesNotMatch(text, /[\u007f-\u009f]/)
      assert.deepEqual(JSON.parse(text), { title: 'a\u009b31m\u007f' })
    })
  })

  describe('storefront work over the REST API', () => {
    let ctx: TestContext
    let env: Record<string, string>
    let itemId: string
    before(async () => {
      ctx = await createTestContext()
      await ctx.app.listen({ port: 0, host: '127.0.0.1' })
      const { port } = ctx.app.server.address() as AddressInfo
      env = { STOREFRONT_URL: `http://127.0.0.1:${port}`, STOREFRONT_API_KEY: ctx.key, STOREFRONT_SOURCE: DEMO, DATA_DIR: await mkdtemp(path.join(tmpdir(), 'sf-cli-')) }
      await createDemo(ctx)
      await reserve(ctx, {})
      assert.equal((await finalize(ctx)).statusCode, 200)
      // Rows written before names were checked at the edge, or by another writer, may hold anything.
      const item = await ctx.db
        .updateTable('work_item')
        .set({ title: 'Traffic \u001b[2J\u001b]0;pwned\u0007 now', description: 'desc \u009b31m red', assigned_to: 'ana\u001b[8m' })
        .where('kind', '=', 'TRAFFIC_TO_CADENT')
        .returning('id')
        .executeTakeFirstOrThrow()
      itemId = String(item.id)
    })
    after(() => ctx.close())

    it('work list prints escapes as text', async () => {
      const list = await runCli(['work', 'list'], env)
      assert.equal(list.code, 0, list.stderr)
      assertNoRawEscape(list.stdout)
      assert.match(list.stdout, /Traffic \\u001b\[2J\\u001b\]0;pwned\\u0007 now/)
    })

    it('work show prints escapes as text, also with --json', async () => {
      const show = await runCli(['work', 'show', itemId], env)
      assert.equal(show.code, 0, show.stderr)
      assertNoRawEscape(show.stdout)
      assert.match(show.stdout, /desc \\u009b31m red/)
      const json = await runCli(['work', 'show', itemId, '--json'], env)
      assert.equal(json.code, 0, json.stderr)
      assertNoRawEscape(json.stdout)
      assert.equal(JSON.parse(json.stdout).item.description, 'desc \u009b31m red')
    })
  })
})
