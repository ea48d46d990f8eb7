import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import ExcelJS from 'exceljs'
import { runCli, startServerProcess, type ServerProcess } from '../helpers/processes.ts'

const KEY = 'sf_cli_avails_import_test_key_0001'
const NEXT_YEAR = new Date().getUTCFullYear() + 1

describe('storefront avails import against a running server', () => {
  let dataDir: string
  let server: ServerProcess
  let env: Record<string, string>

  const api = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${server.url}/api/v2/storefront${route}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  }

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'storefront-avails-cli-'))
    server = await startServerProcess({ DATA_DIR: dataDir, STOREFRONT_BOOTSTRAP_KEY: KEY })
    env = { DATA_DIR: dataDir, STOREFRONT_URL: server.url, STOREFRONT_API_KEY: KEY }
    const created = await api('POST', '/inventory-sources/modular/feed', { name: 'CLI feed', sourceId: 'cli-feed' })
    assert.equal(created.status, 201, JSON.stringify(created.body))
  })
  after(async () => {
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('previews a CSV as a table without committing it', async () => {
    const file = path.join(dataDir, 'avails.csv')
    await writeFile(file, `\ufeffAvail Code;Collection;Name;Start Date;End Date;Impressions;CPM\ncli-1;CTV;First CLI avail;01.01.${NEXT_YEAR};31.01.${NEXT_YEAR};1.500.000;22,50\ncli-2;CTV;Second;01.02.${NEXT_YEAR};28.02.${NEXT_YEAR};250.000;\n;;;;;;\n`)
    const result = await runCli(['avails', 'import', file, '--source', 'cli-feed', '--map', 'Avail Code=availId'], env)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /Preview avp_[0-9a-f]{24} of avails\.csv/)
    assert.match(result.stdout, /2 avail rows parsed, 0 errors, 0 warnings/)
    assert.match(result.stdout, /2 created, 0 updated, 0 unchanged, 0 deactivated/)
    assert.match(result.stdout, /cli-1\s+First CLI avail\s+\S+\s+\S+\s+1,500,000\s+22.5 USD/)
    assert.match(result.stdout, /Nothing is committed yet/)
    assert.ok(!result.stdout.includes('\u001b['), 'no colour when stdout is not a terminal')
    const products = await api('GET', '/inventory-sources/cli-feed/modular/products')
    assert.deepEqual(products.body.products, [])
  })

  it('commits an .xlsx file with --commit and --sheet', async () => {
    const workbook = new ExcelJS.Workbook()
    workbook.addWorksheet('Notes').addRow(['ignore me'])
    const sheet = workbook.addWorksheet('Avails')
    sheet.addRow(['Avail ID', 'Collection', 'Name', 'Start', 'End', 'Impressions'])
    sheet.addRow(['xl-1', 'CTV', 'From Excel', new Date(Date.UTC(NEXT_YEAR, 2, 1)), new Date(Date.UTC(NEXT_YEAR, 2, 31)), 900_000])
    const file = path.join(dataDir, 'avails.xlsx')
    await workbook.xlsx.writeFile(file)

    const result = await runCli(['avails', 'import', file, '--source', 'cli-feed', '--sheet', 'Avails', '--commit'], env)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /Committed avp_[0-9a-f]{24}: 1 avail \(1 created/)
    const products = await api('GET', '/inventory-sources/cli-feed/modular/products')
    assert.deepEqual((products.body.products as { availId: string }[]).map((product) => product.availId), ['xl-1'])
  })

  it('shows row errors, commits nothing and exits 2', async () => {
    const file = path.join(dataDir, 'broken.csv')
    await writeFile(file, `Avail ID,Collection,Name,Start,End,Impressions\nbad-1,CTV,Negative,${NEXT_YEAR}-01-01,${NEXT_YEAR}-01-31,-5\nbad-1,CTV,Duplicate,${NEXT_YEAR}-01-01,${NEXT_YEAR}-01-31,5\n`)
    const result = await runCli(['avails', 'import', file, '--source', 'cli-feed', '--commit'], env)
    assert.equal(result.code, 2)
    assert.match(result.stdout, /2\s+ERROR\s+impressionsCapacity/)
    assert.match(result.stdout, /3\s+ERROR\s+availId\s+availId "bad-1" is already used on row 2/)
    assert.match(result.stderr, /nothing was committed/)
    const products = await api('GET', '/inventory-sources/cli-feed/modular/products')
    assert.deepEqual((products.body.products as { availId: string }[]).map((product) => product.availId), ['xl-1'])
  })

  it('exits 3 for an unknown source, 2 for bad usage, 1 when the server is unreachable', async () => {
    const file = path.join(dataDir, 'avails.csv')
    const missing = await runCli(['avails', 'import', file, '--source', 'nope'], env)
    assert.equal(missing.code, 3)
    assert.match(missing.stderr, /NOT_FOUND/)
    assert.equal((await runCli(['avails', 'import', file], env)).code, 2)
    assert.equal((await runCli(['avails', 'import', path.join(dataDir, 'none.csv'), '--source', 'cli-feed'], env)).code, 2)
    assert.equal((await runCli(['avails', 'import', file, '--source', 'cli-feed', '--map', 'nonsense'], env)).code, 2)
    const { STOREFRONT_API_KEY: _key, ...withoutKey } = env
    assert.equal((await runCli(['avails', 'import', file, '--source', 'cli-feed'], { ...withoutKey, STOREFRONT_API_KEY: '' })).code, 2)
    const unreachable = await runCli(['avails', 'import', file, '--source', 'cli-feed'], { ...env, STOREFRONT_URL: 'http://127.0.0.1:9' })
    assert.equal(unreachable.code, 1)
    assert.match(unreachable.stderr, /Cannot reach the storefront server/)
  })
})
