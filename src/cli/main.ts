import { parseArgs, type ParseArgsConfig } from 'node:util'
import packageJson from '../../package.json' with { type: 'json' }
import { COMMANDS, commandUsage, isSingleVerb, topUsage, verbUsage, type Invocation, type VerbSpec } from './commands.ts'

/**
 * `storefront <command> [<verb>] [options]`: finds the verb in commands.ts, answers --help and
 * --version without running anything, parses the options strictly (node:util parseArgs) and runs the
 * verb, whose code is imported only then. Usage errors are one line naming what is wrong and where the
 * help is (exit 2); every other failure is mapped to its exit code in failure.ts.
 */

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

const HELP = new Set(['--help', '-h'])

/** --help anywhere before a `--` asks for help: nothing runs, whatever else is on the line. */
function asksForHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false
    if (HELP.has(arg)) return true
  }
  return false
}

function list(names: string[]): string {
  return names.join(', ')
}

/** parseArgs' errors, said in one line that names the valid options. */
function parseInvocation(name: string, verb: VerbSpec, args: string[]): Invocation {
  const options: NonNullable<ParseArgsConfig['options']> = {}
  for (const [option, spec] of Object.entries(verb.options)) options[option] = { type: spec.type, ...(spec.multiple ? { multiple: true } : {}) }
  const valid = list([...Object.keys(verb.options).map((option) => `--${option}`), '--help'])
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (error) {
    const code = (error as { code?: string }).code
    const option = /'(-[^' ]+)/.exec((error as Error).message)?.[1]
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${option ?? ''}; valid options: ${valid}`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const key = option?.replace(/^-+/, '')
      const spec = key !== undefined && Object.hasOwn(verb.options, key) ? verb.options[key] : undefined
      throw new UsageError(spec?.type === 'boolean' ? `${option} takes no value` : `${option ?? 'an option'} needs ${spec?.value ?? 'a value'}`)
    }
    throw new UsageError((error as Error).message)
  }
  const wanted = verb.args ?? []
  const required = wanted.filter((arg) => !arg.startsWith('[')).length
  const { positionals } = parsed
  if (positionals.length > wanted.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[wanted.length])}${wanted.length === 0 ? ' (this verb takes none)' : ''}`)
  if (positionals.length < required) throw new UsageError(`missing ${wanted.slice(positionals.length, required).join(' ')}`)
  return { name, values: parsed.values as Invocation['values'], positionals }
}

/** The verb a command line names, the name to show and its remaining arguments; a usage error otherwise. */
function resolve(argv: string[]): { name: string; verb: VerbSpec; args: string[] } | { help: string } {
  const [command, ...rest] = argv
  // Own properties only: `storefront constructor` names no command, whatever Object.prototype has.
  const spec = Object.hasOwn(COMMANDS, command!) ? COMMANDS[command!] : undefined
  if (!spec) throw Object.assign(new UsageError(`unknown command ${JSON.stringify(command)}; commands: ${list(Object.keys(COMMANDS))}`), { where: 'storefront' })
  if (isSingleVerb(spec.verbs)) return { name: `storefront ${command}`, verb: spec.verbs, args: rest }
  const [verbName, ...args] = rest
  if (verbName === undefined || HELP.has(verbName)) {
    if (verbName === undefined) throw Object.assign(new UsageError(`missing verb; verbs: ${list(Object.keys(spec.verbs))}`), { where: `storefront ${command}` })
    return { help: commandUsage(command!) }
  }
  const verb = Object.hasOwn(spec.verbs, verbName) ? spec.verbs[verbName] : undefined
  if (!verb) throw Object.assign(new UsageError(`unknown verb ${JSON.stringify(verbName)}; verbs: ${list(Object.keys(spec.verbs))}`), { where: `storefront ${command}` })
  return { name: `storefront ${command} ${verbName}`, verb, args }
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined) {
    console.error(topUsage(packageJson.version))
    return 2
  }
  if (HELP.has(first)) {
    console.log(topUsage(packageJson.version))
    return 0
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    console.log(packageJson.version)
    return 0
  }
  let name = 'storefront'
  try {
    if (first === 'help') {
      if (rest.length === 0) {
        console.log(topUsage(packageJson.version))
        return 0
      }
      const target = resolve([...rest, '--help'])
      if ('help' in target) console.log(target.help)
      else console.log(verbUsage(target.name, target.verb))
      return 0
    }
    const target = resolve(argv)
    if ('help' in target) {
      console.log(target.help)
      return 0
    }
    name = target.name
    if (asksForHelp(target.args)) {
      console.log(verbUsage(target.name, target.verb))
      return 0
    }
    const invocation = parseInvocation(target.name, target.verb, target.args)
    return await target.verb.run(invocation)
  } catch (error) {
    const { reportFailure } = await import('./failure.ts')
    return reportFailure(error, (error as { where?: string }).where ?? name)
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  async (error: unknown) => {
    const { reportFailure } = await import('./failure.ts')
    process.exitCode = reportFailure(error, 'storefront')
  },
)
