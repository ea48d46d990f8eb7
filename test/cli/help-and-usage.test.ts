import assert from 'node:assert/strict'
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildBundle, ENTRIES } from '../../bin/bundle.js'
import { COMMANDS, isSingleVerb } from '../../src/cli/commands.ts'
import { repoRoot, runBin, runCli } from '../helpers/processes.ts'

/** Every command line that names a verb: `serve`, `work list`, ... */
const verbs: { line: string[]; options: string[] }[] = Object.entries(COMMANDS).flatMap(([command, spec]) =>
  isSingleVerb(spec.verbs)
    ? [{ line: [command], options: Object.keys(spec.verbs.options) }]
    : Object.entries(spec.verbs).map(([verb, verbSpec]) => ({ line: [command, verb], options: Object.keys(verbSpec.options) })))

/** A usage error: exit 2, one line on stderr naming the command and its --help, never the whole usage. */
function assertOneLineUsageError(result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, result.stderr)
  assert.match(lines[0]!, pattern)
  assert.doesNotMatch(result.stderr, /Usage:/)
}

describe('storefront --help, --version and usage errors', () => {
  let dataDir: string
  let env: Record<string, string>
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'sf-cli-help-'))
    // Nothing here may reach a server or a database: an unreachable URL and an empty data directory.
    env = { DATA_DIR: dataDir, STOREFRONT_URL: 'http://127.0.0.1:9', STOREFRONT_API_KEY: 'sf_not_used_by_any_of_these_tests' }
  })
  after(() => rm(dataDir, { recursive: true, force: true }))

  it('--help lists every command and exits 0; the bare command prints it to stderr with exit 2', async () => {
    const help = await runBin(['--help'], env)
    assert.equal(help.code, 0, help.stderr)
    for (const command of Object.keys(COMMANDS)) assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'))
    assert.match(help.stdout, /-V, --version/)
    const bare = await runBin([], env)
    assert.equal(bare.code, 2)
    assert.equal(bare.stderr.trim(), help.stdout.trim())
  })

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    for (const flag of ['--version', '-V']) {
      const result = await runBin([flag], env)
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stdout, `${version}\n`)
    }
  })

  it('--help on every command and verb prints its usage with its options and runs nothing', async () => {
    for (const { line, options } of verbs) {
      const result = await runBin([...line, '--help'], env)
      assert.equal(result.code, 0, `${line.join(' ')}: ${result.stderr}`)
      assert.match(result.stdout, new RegExp(`^Usage: storefront ${line.join(' ')}\\b`), line.join(' '))
      for (const option of [...options, 'help']) assert.match(result.stdout, new RegExp(`--${option}\\b`), `${line.join(' ')} --${option}`)
      assert.equal(result.stderr, '', line.join(' '))
    }
    // serve would still be running, migrate and keys would have created the embedded database.
    assert.deepEqual(await readdir(dataDir), [])
  })

  it('--help wins over anything else on the line, and -h and help <command> say the same', async () => {
    const usage = (await runBin(['work', 'list', '--help'], env)).stdout
    assert.equal((await runBin(['work', 'list', '--bogus', 'x', '-h'], env)).stdout, usage)
    assert.equal((await runBin(['help', 'work', 'list'], env)).stdout, usage)
    const work = await runBin(['work', '--help'], env)
    assert.equal(work.code, 0)
    for (const verb of Object.keys(COMMANDS.work!.verbs)) assert.match(work.stdout, new RegExp(`^  ${verb}\\b`, 'm'))
    const serve = await runBin(['serve', '--port', '1', '--help'], env)
    assert.equal(serve.code, 0)
    assert.match(serve.stdout, /^Usage: storefront serve/)
  })

  it('names the valid options of the verb for an unknown one', async () => {
    assertOneLineUsageError(await runBin(['work', 'list', '--bogus'], env),
      /^storefront work list: unknown option --bogus; valid options: --source, --status, --kind, --media-buy, --limit, --json, --help \(see storefront work list --help\)$/)
    assertOneLineUsageError(await runBin(['serve', '--port', '3000'], env), /^storefront serve: unknown option --port; valid options: --help/)
    assertOneLineUsageError(await runBin(['migrate', '--force'], env), /^storefront migrate: unknown option --force/)
    assertOneLineUsageError(await runBin(['keys', 'list', '--role', 'buyer'], env), /valid options: --storefront, --json, --help/)
    assert.deepEqual(await readdir(dataDir), [])
  })

  it('answers unknown commands and verbs, missing verbs, arguments and values in one line', async () => {
    assertOneLineUsageError(await runBin(['frobnicate'], env), /^storefront: unknown command "frobnicate"; commands: serve, migrate, keys, .* \(see storefront --help\)$/)
    assertOneLineUsageError(await runBin(['work', 'frob'], env), /^storefront work: unknown verb "frob"; verbs: list, show, start, block, complete, cancel, follow-up \(see storefront work --help\)$/)
    assertOneLineUsageError(await runBin(['work'], env), /^storefront work: missing verb; verbs: list, show/)
    // Names Object.prototype has are no commands, verbs or options.
    assertOneLineUsageError(await runBin(['constructor'], env), /^storefront: unknown command "constructor"; commands: serve, /)
    assertOneLineUsageError(await runBin(['help', '__proto__'], env), /^storefront: unknown command "__proto__"/)
    assertOneLineUsageError(await runBin(['work', 'toString'], env), /^storefront work: unknown verb "toString"; verbs: list, /)
    assertOneLineUsageError(await runBin(['work', 'hasOwnProperty', '--help'], env), /^storefront work: unknown verb "hasOwnProperty"/)
    assertOneLineUsageError(await runBin(['work', 'list', '--constructor'], env), /^storefront work list: unknown option --constructor/)
    assertOneLineUsageError(await runBin(['work', 'show'], env), /^storefront work show: missing <workItemId> \(see storefront work show --help\)$/)
    assertOneLineUsageError(await runBin(['work', 'list', 'extra'], env), /^storefront work list: unexpected argument "extra" \(this verb takes none\)/)
    assertOneLineUsageError(await runBin(['work', 'list', '--source'], env), /^storefront work list: --source needs <sourceId>/)
    assertOneLineUsageError(await runBin(['work', 'list', '--json=yes'], env), /^storefront work list: --json takes no value/)
    assertOneLineUsageError(await runBin(['work', 'start', '7', '--source', 'x'], env), /^storefront work start: needs --assignee <name> \(see storefront work start --help\)$/)
    assertOneLineUsageError(await runBin(['reserve', '--source', 'x', '--avail', 'a'], env), /^storefront reserve: needs --media-buy <id> and --impressions <n>/)
    assertOneLineUsageError(await runBin(['reserve', '--source', 'x', '--avail', 'a', '--media-buy', 'm', '--impressions', 'lots'], env), /--impressions must be a whole number, got "lots"/)
    assertOneLineUsageError(await runBin(['release', '--source', 'x'], env), /^storefront release: needs --reservation <id>, or --media-buy <id> with --avail or --product/)
    assertOneLineUsageError(await runBin(['products'], { ...env, STOREFRONT_SOURCE: '' }), /--source <sourceId> is required \(or set STOREFRONT_SOURCE\)/)
    assertOneLineUsageError(await runBin(['sources', 'list'], { ...env, STOREFRONT_API_KEY: '' }), /^storefront sources list: Set STOREFRONT_API_KEY/)
    assertOneLineUsageError(await runBin(['keys', 'create', '--role', 'admin', '--storefront', 'x'], env), /^storefront keys create: --role must be operator or buyer, not admin/)
    assertOneLineUsageError(await runBin(['avails', 'import', path.join(dataDir, 'none.csv'), '--source', 'x'], env), /^storefront avails import: no such file/)
    assert.deepEqual(await readdir(dataDir), [])
  })

  it('answers the same through tsx, as npm start and the other tests run it', async () => {
    for (const line of [['--help'], ['work', 'list', '--help'], ['serve', '--help']]) {
      assert.deepEqual(await runCli(line, env), await runBin(line, env), line.join(' '))
    }
    assert.deepEqual(await runCli(['work', 'list', '--bogus'], env), await runBin(['work', 'list', '--bogus'], env))
  })

  it('bundles the whole application, and --help loads src/cli alone: no package, no server code', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'sf-cli-bundle-'))
    try {
      const { directory: bundle, inputs } = await buildBundle(directory)
      for (const entry of Object.values(ENTRIES)) assert.ok(inputs.includes(entry), entry)
      assert.ok(inputs.includes('src/server.ts') && inputs.includes('src/mcp/agent.ts') && inputs.includes('src/cli/work-commands.ts'))
      // The bundle's packages are absolute node_modules URLs: an install that moves one must rebuild it.
      assert.ok(inputs.includes('package-lock.json'))
      // What `storefront --help` loads: cli.mjs and the chunks it imports statically, transitively.
      const loaded = new Set<string>()
      const pending = ['cli.mjs']
      const specifiers: string[] = []
      while (pending.length > 0) {
        const file = pending.pop()!
        if (loaded.has(file)) continue
        loaded.add(file)
        const text = await readFile(path.join(bundle, file), 'utf8')
        for (const [, specifier] of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^import\s*"([^"]+)"/gm)) {
          if (specifier === undefined) continue
          if (specifier.startsWith('./')) pending.push(specifier.slice(2))
          else specifiers.push(specifier)
        }
      }
      for (const specifier of specifiers) assert.ok(specifier.startsWith('node:'), `--help would load ${specifier}`)
      const helpText = (await Promise.all([...loaded].map((file) => readFile(path.join(bundle, file), 'utf8')))).join('\n')
      assert.match(helpText, /src\/cli\/commands\.ts/)
      assert.doesNotMatch(helpText, /src\/(server|http|mcp|db)\//, 'no server module is loaded for --help')
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
