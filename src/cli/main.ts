import { USAGE } from './usage.ts'

/**
 * The entry point loads only the help text: each command's module is imported when it runs, so
 * `storefront --help` does not load the server, the database driver or exceljs.
 * Exit codes are mapped in one place, failure.ts.
 */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === 'help' || command === '-h') {
    console.log(USAGE)
    return command ? 0 : 2
  }
  switch (command) {
    case 'serve': {
      const [{ loadConfig }, { serve }] = await Promise.all([import('../config.ts'), import('./serve-command.ts')])
      return serve(loadConfig())
    }
    case 'migrate': {
      const [{ loadConfig }, { migrateCommand }] = await Promise.all([import('../config.ts'), import('./admin-commands.ts')])
      return migrateCommand(loadConfig())
    }
    case 'keys': {
      const [{ loadConfig }, { keysCommand }] = await Promise.all([import('../config.ts'), import('./admin-commands.ts')])
      return keysCommand(loadConfig(), rest)
    }
    case 'avails': {
      const { availsCommand } = await import('./avails-import.ts')
      return availsCommand(rest)
    }
    case 'sandbox': {
      const { sandboxCommand } = await import('./sandbox-commands.ts')
      return sandboxCommand(rest)
    }
    case 'work':
    case 'finalize': {
      const { runApiCommand } = await import('./work-commands.ts')
      return runApiCommand(command, rest)
    }
    default:
      console.error(`Unknown command: ${command}\n\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  async (error: unknown) => {
    const { reportFailure } = await import('./failure.ts')
    process.exitCode = reportFailure(error)
  },
)
