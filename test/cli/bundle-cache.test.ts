import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildBundle, cacheDirectory, currentBundle } from '../../bin/bundle.js'
import { repoRoot, runBin } from '../helpers/processes.ts'

/** What a bundle directory is named: the first 16 hex digits of the sha256 of its files, in name order. */
function nameOf(files: Record<string, string>): string {
  const hash = createHash('sha256')
  for (const name of Object.keys(files).sort()) hash.update(`${name}\0${Buffer.byteLength(files[name]!)}\0`).update(files[name]!)
  return hash.digest('hex').slice(0, 16)
}

interface Manifest { format: number; bundle: string; files: string[]; inputs: [string, number, number][] }

async function manifestOf(directory: string): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(directory, 'manifest.json'), 'utf8')) as Manifest
}

/** Writes `files` as a bundle directory in `directory`, named as a real one would be; returns its name. */
async function plantBundle(directory: string, files: Record<string, string>): Promise<string> {
  const name = nameOf(files)
  await mkdir(path.join(directory, name), { recursive: true, mode: 0o700 })
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(directory, name, file), text, { mode: 0o600 })
  return name
}

/** An entry point that would prove it ran by writing `marker`. */
function plantedCode(marker: string): string {
  return `import { writeFileSync } from 'node:fs'\nwriteFileSync(${JSON.stringify(marker)}, 'ran')\n`
}

describe('the bundle cache', () => {
  let scratch: string
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'sf-bundle-cache-'))
  })
  after(() => rm(scratch, { recursive: true, force: true }))

  it('lives in the checkout, node_modules/.cache/storefront/, private to its owner', async () => {
    const directory = cacheDirectory()
    assert.ok(directory.startsWith(path.join(repoRoot, 'node_modules', '.cache', 'storefront') + path.sep), directory)
    const bundle = await currentBundle()
    assert.ok(bundle, 'a bundle is built in the checkout cache')
    assert.equal(path.dirname(bundle), directory)
    for (const level of [bundle, directory, path.dirname(directory)]) {
      const info = await stat(level)
      assert.equal(info.mode & 0o077, 0, `${level} mode ${(info.mode & 0o777).toString(8)}`)
      assert.equal(info.uid, process.getuid!())
    }
    const files = await readdir(bundle)
    assert.ok(files.includes('cli.mjs') && files.includes('embedded-setup.mjs'), files.join(', '))
  })

  it('uses a cached bundle only when the manifest names it by its content hash and lists every entry point', async () => {
    const directory = path.join(scratch, 'manifest')
    const built = await buildBundle(directory)
    assert.equal(await currentBundle(directory), built.directory, 'an unchanged bundle is reused')
    const good = await manifestOf(directory)
    const marker = path.join(scratch, 'ran')
    const planted = { 'cli.mjs': plantedCode(marker), 'embedded-setup.mjs': plantedCode(marker) }
    const plantedName = await plantBundle(directory, planted)
    const onlyCli = await plantBundle(directory, { 'cli.mjs': plantedCode(marker) })
    await plantBundle(scratch, planted)
    const tampered: Partial<Manifest>[] = [
      { bundle: `../${plantedName}` },
      { bundle: plantedName, inputs: [] },
      { bundle: plantedName, files: ['cli.mjs', 'embedded-setup.mjs'], inputs: good.inputs.filter(([relative]) => relative !== 'src/cli/main.ts') },
      { bundle: plantedName, files: ['cli.mjs', 'embedded-setup.mjs'], inputs: good.inputs.filter(([relative]) => relative !== 'src/db/embedded-setup-process.ts') },
      { bundle: plantedName, files: ['cli.mjs', 'embedded-setup.mjs'], inputs: good.inputs.filter(([relative]) => relative !== 'package-lock.json') },
      { bundle: plantedName, files: ['cli.mjs', 'embedded-setup.mjs'], inputs: [['../../../etc/hostname', 0, 0], ...good.inputs] },
      { bundle: plantedName, files: ['cli.mjs', 'embedded-setup.mjs', '../outside.mjs'] },
      { bundle: onlyCli, files: ['cli.mjs'] },
    ]
    for (const change of tampered) {
      await writeFile(path.join(directory, 'manifest.json'), JSON.stringify({ ...good, ...change }))
      assert.equal(await currentBundle(directory), built.directory, JSON.stringify(change).slice(0, 80))
    }
    // The name is right but a file's content is not the one it was built from, or a file was added.
    const original = await readFile(path.join(built.directory, 'cli.mjs'), 'utf8')
    await writeFile(path.join(built.directory, 'cli.mjs'), plantedCode(marker))
    await writeFile(path.join(directory, 'manifest.json'), JSON.stringify(good))
    assert.equal(await currentBundle(directory), built.directory, 'rebuilt under the same name')
    assert.equal(await readFile(path.join(built.directory, 'cli.mjs'), 'utf8'), original, 'rebuilt from source')
    await writeFile(path.join(built.directory, 'extra.mjs'), plantedCode(marker))
    await writeFile(path.join(directory, 'manifest.json'), JSON.stringify(good))
    const chosen = await currentBundle(directory)
    assert.ok(chosen)
    assert.deepEqual((await readdir(chosen)).sort(), [...good.files].sort(), 'a file the build did not write is not part of the bundle')
    await assert.rejects(stat(marker), { code: 'ENOENT' })
  })

  it('names no bundle in the manifest when an input changed while it was built, so the next start builds again', async () => {
    const directory = path.join(scratch, 'edited-during-build')
    const input = path.join(repoRoot, 'src', 'cli', 'main.ts')
    const { atime, mtime } = await stat(input)
    // An mtime after the build started is what an edit during the build leaves.
    const later = new Date(Date.now() + 60_000)
    await utimes(input, later, later)
    try {
      const built = await buildBundle(directory)
      assert.equal(built.current, false)
      await assert.rejects(stat(path.join(directory, 'manifest.json')), { code: 'ENOENT' })
      assert.ok((await readdir(built.directory)).includes('cli.mjs'), 'the bundle itself is whole')
    } finally {
      await utimes(input, atime, mtime)
    }
    const rebuilt = await buildBundle(directory)
    assert.equal(rebuilt.current, true)
    assert.equal((await manifestOf(directory)).bundle, path.basename(rebuilt.directory))
  })

  it('refuses a symlinked directory or one its group or others may write, and touches nothing in it', async () => {
    const elsewhere = path.join(scratch, 'elsewhere')
    await mkdir(elsewhere, { mode: 0o700 })
    await writeFile(path.join(elsewhere, 'precious.mjs'), 'export {}\n')
    await mkdir(path.join(elsewhere, '0123456789abcdef'))
    const linked = path.join(scratch, 'linked')
    await symlink(elsewhere, linked)
    await assert.rejects(buildBundle(linked), /is not a directory/)
    assert.equal(await currentBundle(linked), null)
    assert.deepEqual((await readdir(elsewhere)).sort(), ['0123456789abcdef', 'precious.mjs'])

    const open = path.join(scratch, 'open')
    await mkdir(open)
    await chmod(open, 0o777)
    await assert.rejects(buildBundle(open), /may be written by its group or others/)
    assert.equal(await currentBundle(open), null)
    assert.deepEqual(await readdir(open), [])
  })

  it('refuses a directory another user owns', { skip: process.getuid?.() !== 0 && 'needs root to give a directory away' }, async () => {
    const foreign = path.join(scratch, 'foreign')
    await mkdir(foreign, { mode: 0o700 })
    await chown(foreign, 65534, 65534)
    await assert.rejects(buildBundle(foreign), /is owned by uid 65534/)
    assert.equal(await currentBundle(foreign), null)
  })

  it('removes earlier bundles older than a minute and keeps recent ones another process may import', async () => {
    const directory = path.join(scratch, 'cleanup')
    await mkdir(directory, { mode: 0o700 })
    const old = path.join(directory, '00000000000000aa')
    const recent = path.join(directory, '00000000000000bb')
    const leftover = path.join(directory, 'manifest.json.123.tmp')
    for (const bundle of [old, recent]) {
      await mkdir(bundle)
      await writeFile(path.join(bundle, 'cli.mjs'), 'export {}\n')
    }
    await writeFile(leftover, '{}')
    const twoMinutesAgo = new Date(Date.now() - 120_000)
    await utimes(old, twoMinutesAgo, twoMinutesAgo)
    await utimes(leftover, twoMinutesAgo, twoMinutesAgo)
    const built = await buildBundle(directory)
    const left = await readdir(directory)
    assert.ok(left.includes(path.basename(built.directory)))
    assert.ok(left.includes('00000000000000bb'), 'a recent bundle is kept')
    assert.ok(!left.includes('00000000000000aa'), 'an old bundle is removed')
    assert.ok(!left.includes('manifest.json.123.tmp'), 'a stale temporary file is removed')
  })

  it('falls back to tsx when the cached bundle fails to link (a package moved), and rebuilds next time', async () => {
    const directory = cacheDirectory()
    assert.ok(await currentBundle())
    const good = await manifestOf(directory)
    const broken = `import ${JSON.stringify(`file://${path.join(scratch, 'moved', 'index.js')}`)}\n`
    const brokenName = await plantBundle(directory, { 'cli.mjs': broken, 'embedded-setup.mjs': broken })
    await writeFile(path.join(directory, 'manifest.json'), JSON.stringify({ ...good, bundle: brokenName, files: ['cli.mjs', 'embedded-setup.mjs'] }), { mode: 0o600 })
    const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    const result = await runBin(['--version'], { STOREFRONT_CLI_TSX: '' })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, `${version}\n`)
    assert.notEqual((await manifestOf(directory).catch(() => null))?.bundle, brokenName, 'the broken bundle is forgotten')
    const next = await runBin(['--version'], { STOREFRONT_CLI_TSX: '' })
    assert.equal(next.stdout, `${version}\n`)
    assert.notEqual((await manifestOf(directory)).bundle, brokenName)
  })
})
