import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildCliBundle, cacheDirectory, cliBundle } from '../../bin/cli-bundle.js'
import { repoRoot, runBin } from '../helpers/processes.ts'

/** What a bundle is named: the first 16 hex digits of its content's sha256. */
function nameOf(text: string): string {
  return `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`
}

interface Manifest { format: number; bundle: string; inputs: [string, number, number][] }

async function manifestOf(directory: string): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(directory, 'manifest.json'), 'utf8')) as Manifest
}

/** A bundle that would prove it ran by writing `marker`. */
function plantedCode(marker: string): string {
  return `import { writeFileSync } from 'node:fs'\nwriteFileSync(${JSON.stringify(marker)}, 'ran')\n`
}

describe('the CLI bundle cache', () => {
  let scratch: string
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'sf-cli-cache-'))
  })
  after(() => rm(scratch, { recursive: true, force: true }))

  it('lives in the checkout, node_modules/.cache/storefront-cli/, private to its owner', async () => {
    const directory = cacheDirectory()
    assert.ok(directory.startsWith(path.join(repoRoot, 'node_modules', '.cache', 'storefront-cli') + path.sep), directory)
    const url = await cliBundle()
    assert.ok(url, 'a bundle is built in the checkout cache')
    assert.equal(path.dirname(fileURLToPath(url)), directory)
    for (const level of [directory, path.dirname(directory)]) {
      const info = await stat(level)
      assert.equal(info.mode & 0o077, 0, `${level} mode ${(info.mode & 0o777).toString(8)}`)
      assert.equal(info.uid, process.getuid!())
    }
  })

  it('uses a cached bundle only when the manifest names it by its content hash and lists the entry point', async () => {
    const directory = path.join(scratch, 'manifest')
    const { url } = await buildCliBundle(directory)
    assert.equal(await cliBundle(directory), url, 'an unchanged bundle is reused')
    const good = await manifestOf(directory)
    const marker = path.join(scratch, 'ran')
    const planted = plantedCode(marker)
    const plantedName = nameOf(planted)
    await writeFile(path.join(directory, plantedName), planted)
    await writeFile(path.join(scratch, 'outside.mjs'), planted)
    const tampered: Partial<Manifest>[] = [
      { bundle: '../outside.mjs' },
      { bundle: plantedName, inputs: [] },
      { bundle: plantedName, inputs: good.inputs.filter(([relative]) => relative !== 'src/cli/main.ts') },
      { bundle: plantedName, inputs: good.inputs.filter(([relative]) => relative !== 'package-lock.json') },
      { bundle: plantedName, inputs: [['../../../etc/hostname', 0, 0], ...good.inputs] },
    ]
    for (const change of tampered) {
      await writeFile(path.join(directory, 'manifest.json'), JSON.stringify({ ...good, ...change }))
      const chosen = await cliBundle(directory)
      assert.equal(chosen, url, JSON.stringify(change).slice(0, 80))
    }
    // The name is right but the content is not the one it was built from.
    await writeFile(fileURLToPath(url), planted)
    await writeFile(path.join(directory, 'manifest.json'), JSON.stringify(good))
    assert.equal(await cliBundle(directory), url)
    const rebuilt = await readFile(fileURLToPath(url), 'utf8')
    assert.equal(nameOf(rebuilt), path.basename(fileURLToPath(url)), 'rebuilt from source')
    await assert.rejects(stat(marker), { code: 'ENOENT' })
  })

  it('refuses a symlinked directory or one its group or others may write, and touches nothing in it', async () => {
    const elsewhere = path.join(scratch, 'elsewhere')
    await mkdir(elsewhere, { mode: 0o700 })
    await writeFile(path.join(elsewhere, 'precious.mjs'), 'export {}\n')
    await writeFile(path.join(elsewhere, '0123456789abcdef.mjs'), 'export {}\n')
    const linked = path.join(scratch, 'linked')
    await symlink(elsewhere, linked)
    await assert.rejects(buildCliBundle(linked), /is not a directory/)
    assert.equal(await cliBundle(linked), null)
    assert.deepEqual((await readdir(elsewhere)).sort(), ['0123456789abcdef.mjs', 'precious.mjs'])

    const open = path.join(scratch, 'open')
    await mkdir(open)
    await chmod(open, 0o777)
    await assert.rejects(buildCliBundle(open), /may be written by its group or others/)
    assert.equal(await cliBundle(open), null)
    assert.deepEqual(await readdir(open), [])
  })

  it('refuses a directory another user owns', { skip: process.getuid?.() !== 0 && 'needs root to give a directory away' }, async () => {
    const foreign = path.join(scratch, 'foreign')
    await mkdir(foreign, { mode: 0o700 })
    await chown(foreign, 65534, 65534)
    await assert.rejects(buildCliBundle(foreign), /is owned by uid 65534/)
    assert.equal(await cliBundle(foreign), null)
  })

  it('removes earlier bundles older than a minute and keeps recent ones another process may import', async () => {
    const directory = path.join(scratch, 'cleanup')
    await mkdir(directory, { mode: 0o700 })
    const old = path.join(directory, '00000000000000aa.mjs')
    const recent = path.join(directory, '00000000000000bb.mjs')
    const leftover = path.join(directory, 'manifest.json.123.tmp')
    for (const file of [old, recent, leftover]) await writeFile(file, 'export {}\n')
    const twoMinutesAgo = new Date(Date.now() - 120_000)
    await utimes(old, twoMinutesAgo, twoMinutesAgo)
    await utimes(leftover, twoMinutesAgo, twoMinutesAgo)
    const { url } = await buildCliBundle(directory)
    const left = await readdir(directory)
    assert.ok(left.includes(path.basename(fileURLToPath(url))))
    assert.ok(left.includes('00000000000000bb.mjs'), 'a recent bundle is kept')
    assert.ok(!left.includes('00000000000000aa.mjs'), 'an old bundle is removed')
    assert.ok(!left.includes('manifest.json.123.tmp'), 'a stale temporary file is removed')
  })

  it('falls back to tsx when the cached bundle fails to link (a package moved), and rebuilds next time', async () => {
    const directory = cacheDirectory()
    assert.ok(await cliBundle())
    const good = await manifestOf(directory)
    const broken = `import ${JSON.stringify(`file://${path.join(scratch, 'moved', 'index.js')}`)}\n`
    await writeFile(path.join(directory, nameOf(broken)), broken, { mode: 0o600 })
    await writeFile(path.join(directory, 'manifest.json'), JSON.stringify({ ...good, bundle: nameOf(broken) }), { mode: 0o600 })
    const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    const result = await runBin(['--version'], { STOREFRONT_CLI_TSX: '' })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, `${version}\n`)
    assert.notEqual((await manifestOf(directory).catch(() => null))?.bundle, nameOf(broken), 'the broken bundle is forgotten')
    const next = await runBin(['--version'], { STOREFRONT_CLI_TSX: '' })
    assert.equal(next.stdout, `${version}\n`)
    assert.notEqual((await manifestOf(directory)).bundle, nameOf(broken))
  })
})
