import type * as ApiCommands from './api-commands.ts'
import type * as WorkCommands from './work-commands.ts'

/**
 * Every command and verb of `storefront`: its arguments, options and help text, and how to run it.
 *
 * This file and main.ts are all that `storefront --help` loads. Each verb's code is imported when the
 * verb runs: the REST client verbs load a few small files of src/cli, and only `serve`, `migrate` and
 * `keys` (which open the database or the server) load the rest of the application (in the bundle of
 * bin/bundle.js, each dynamic import is a chunk of its own).
 */

export interface OptionSpec {
  type: 'string' | 'boolean'
  /** Repeatable (`--set a=1 --set b=2`). */
  multiple?: boolean
  /** The value's placeholder in the help text, e.g. `<id>`. */
  value?: string
  help: string
}

/** What a verb runs with: its parsed options and positionals, and its name for messages. */
export interface Invocation {
  /** `storefront work list`: errors and hints name it. */
  name: string
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

export interface VerbSpec {
  /** Positional arguments in order; a name in [brackets] is optional. */
  args?: string[]
  summary: string
  options: Record<string, OptionSpec>
  /** Lines after the options (environment, where to read more). */
  notes?: string[]
  run(input: Invocation): Promise<number>
}

export interface CommandSpec {
  summary: string
  /** A command with verbs (`work list`), or one that is its own verb (`serve`). */
  verbs: Record<string, VerbSpec> | VerbSpec
}

/** A string option's value, if given. */
export function stringOption(input: Invocation, name: string): string | undefined {
  const value = input.values[name]
  return typeof value === 'string' ? value : undefined
}

export function flagOption(input: Invocation, name: string): boolean {
  return input.values[name] === true
}

export function listOption(input: Invocation, name: string): string[] {
  const value = input.values[name]
  return Array.isArray(value) ? value : []
}

const json: OptionSpec = { type: 'boolean', help: 'Print the API answer as JSON' }
const source: OptionSpec = { type: 'string', value: '<sourceId>', help: 'The modular source (default: STOREFRONT_SOURCE)' }
const API_NOTES = [
  'Talks to a running server over the REST API: STOREFRONT_URL (default http://127.0.0.1:3000) and',
  'STOREFRONT_API_KEY (an operator key: storefront keys create --storefront <name>).',
]
const ADMIN_NOTES = [
  'Works with or without a running server: while one owns the embedded database it goes through that',
  'server; otherwise it opens DATABASE_URL or DATA_DIR itself (README.md, "Configuration").',
]

const work = (load: (module: typeof WorkCommands) => (input: Invocation) => Promise<number>) =>
  async (input: Invocation) => load(await import('./work-commands.ts'))(input)
const api = (load: (module: typeof ApiCommands) => (input: Invocation) => Promise<number>) =>
  async (input: Invocation) => load(await import('./api-commands.ts'))(input)

export const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    summary: 'Start the API, its docs, /mcp and the /console (embedded database unless DATABASE_URL is set)',
    verbs: {
      summary: 'Start the API, its docs, the AdCP agent at /mcp and /a2a, and the operator /console, until SIGTERM or SIGINT.',
      options: {},
      notes: ['Configuration comes from the environment: PORT, HOST, DATA_DIR, DATABASE_URL, ... (README.md, "Configuration").'],
      run: () => import('./serve-command.ts').then((m) => m.serveCommand()),
    },
  },
  migrate: {
    summary: 'Apply pending database migrations and exit',
    verbs: {
      summary: 'Apply pending database migrations and exit (a running server has already applied them).',
      options: {},
      notes: ADMIN_NOTES,
      run: (input) => import('./admin-commands.ts').then((m) => m.migrateCommand(input)),
    },
  },
  keys: {
    summary: 'Create, list and revoke API keys',
    verbs: {
      create: {
        summary: 'Create an API key (and the storefront if new); the key is shown once. Operator keys (the default) open the REST API, buyer keys the AdCP agent at /mcp.',
        options: {
          storefront: { type: 'string', value: '<name>', help: 'The storefront (required)' },
          label: { type: 'string', value: '<text>', help: 'What the key is for' },
          role: { type: 'string', value: 'operator|buyer', help: 'operator (default) or buyer' },
          sandbox: { type: 'boolean', help: "A buyer key whose accounts are sandbox accounts (needs --role buyer)" },
          json,
        },
        notes: ADMIN_NOTES,
        run: (input) => import('./admin-commands.ts').then((m) => m.keysCreate(input)),
      },
      list: {
        summary: 'List API keys (prefixes only: keys are stored as hashes)',
        options: { storefront: { type: 'string', value: '<name>', help: "Only this storefront's keys" }, json },
        notes: ADMIN_NOTES,
        run: (input) => import('./admin-commands.ts').then((m) => m.keysList(input)),
      },
      revoke: {
        args: ['<id|prefix>'],
        summary: 'Revoke an API key (other server processes stop accepting it within 5 s)',
        options: { json },
        notes: ADMIN_NOTES,
        run: (input) => import('./admin-commands.ts').then((m) => m.keysRevoke(input)),
      },
    },
  },
  sources: {
    summary: 'List and show inventory sources',
    verbs: {
      list: {
        summary: 'List the inventory sources of every execution type',
        options: {
          take: { type: 'string', value: '<n>', help: 'At most this many (1-200, default 100)' },
          skip: { type: 'string', value: '<n>', help: 'Skip this many first' },
          json,
        },
        notes: API_NOTES,
        run: api((m) => m.sourcesList),
      },
      show: {
        args: ['<sourceId>'],
        summary: 'Show one inventory source',
        options: { json },
        notes: API_NOTES,
        run: api((m) => m.sourcesShow),
      },
    },
  },
  readiness: {
    summary: "A modular source's readiness: modules, lifecycle stages, open work, issues",
    verbs: {
      summary: "Show a modular source's readiness projection: its modules, lifecycle stages, open work items and issues.",
      options: { source, json },
      notes: API_NOTES,
      run: api((m) => m.readiness),
    },
  },
  products: {
    summary: "List a modular source's products (its active avails)",
    verbs: {
      summary: 'List the products projected from the ACTIVE, not yet ended avails of a modular source, ordered by availId.',
      options: {
        source,
        collection: { type: 'string', value: '<id>', help: 'Only this collection' },
        channel: { type: 'string', value: '<name>', help: 'Only this channel (case-insensitive)' },
        'available-only': { type: 'boolean', help: 'Only products with impressions left' },
        limit: { type: 'string', value: '<n>', help: 'Page size' },
        cursor: { type: 'string', value: '<cursor>', help: 'The next page (printed after a full page)' },
        json,
      },
      notes: API_NOTES,
      run: api((m) => m.products),
    },
  },
  reserve: {
    summary: 'Hold capacity on an avail for a media buy',
    verbs: {
      summary: 'Hold impressions on an avail for a media buy (an equal live hold is answered again, not doubled).',
      options: {
        source,
        avail: { type: 'string', value: '<availId>', help: 'The avail (or --product)' },
        product: { type: 'string', value: '<productId>', help: 'The product (or --avail)' },
        'media-buy': { type: 'string', value: '<id>', help: 'The media buy (required)' },
        impressions: { type: 'string', value: '<n>', help: 'Impressions to hold (required)' },
        package: { type: 'string', value: '<id>', help: 'The package of the media buy' },
        buyer: { type: 'string', value: '<n>', help: 'Buyer customer id' },
        'hold-minutes': { type: 'string', value: '<n>', help: 'How long the hold lasts unless booked' },
        json,
      },
      notes: API_NOTES,
      run: api((m) => m.reserve),
    },
  },
  release: {
    summary: 'Release a held or booked reservation',
    verbs: {
      summary: 'Release a HELD or BOOKED reservation, by --reservation or by --media-buy with --avail or --product (releasing a released or expired one changes nothing).',
      options: {
        source,
        reservation: { type: 'string', value: '<id>', help: 'The reservation' },
        'media-buy': { type: 'string', value: '<id>', help: 'The media buy (with --avail or --product)' },
        avail: { type: 'string', value: '<availId>', help: 'The avail' },
        product: { type: 'string', value: '<productId>', help: 'The product' },
        package: { type: 'string', value: '<id>', help: 'The package' },
        reason: { type: 'string', value: '<text>', help: 'Why (kept with the reservation)' },
        json,
      },
      notes: API_NOTES,
      run: api((m) => m.release),
    },
  },
  avails: {
    summary: 'Import a .csv or .xlsx avails feed',
    verbs: {
      import: {
        args: ['<file>'],
        summary: 'Upload a .csv or .xlsx avails feed to a running server, print the preview, and with --commit commit it.',
        options: {
          source: { type: 'string', value: '<sourceId>', help: 'The modular source (required)' },
          commit: { type: 'boolean', help: 'Commit the previewed feed' },
          sheet: { type: 'string', value: '<name>', help: 'The workbook sheet (.xlsx)' },
          map: { type: 'string', multiple: true, value: '"Header=field"', help: 'Map a column header to a field (repeatable)' },
          'replace-missing': { type: 'boolean', help: 'Deactivate avails the feed no longer lists' },
          json,
        },
        notes: [...API_NOTES, 'See docs/avails-feed.md ("CLI").'],
        run: async (input) => (await import('./avails-import.ts')).availsImport(input),
      },
    },
  },
  work: {
    summary: "Work a modular source's human queue",
    verbs: {
      list: {
        summary: 'List work items (default: open ones)',
        options: {
          source,
          status: { type: 'string', value: '<list>', help: 'Statuses, comma-separated (e.g. OPEN,BLOCKED)' },
          kind: { type: 'string', value: '<KIND>', help: 'Only this kind' },
          'media-buy': { type: 'string', value: '<id>', help: 'Only this media buy' },
          limit: { type: 'string', value: '<n>', help: 'At most this many' },
          json,
        },
        notes: API_NOTES,
        run: work((m) => m.workList),
      },
      show: {
        args: ['<workItemId>'],
        summary: 'Show a work item and its events',
        options: { source, xml: { type: 'boolean', help: 'Print its Cadent campaign XML' }, json },
        notes: API_NOTES,
        run: work((m) => m.workShow),
      },
      start: {
        args: ['<workItemId>'],
        summary: 'Start a work item',
        options: { source, assignee: { type: 'string', value: '<name>', help: 'Who works it (required)' }, notes: { type: 'string', value: '<text>', help: 'A note' }, json },
        notes: API_NOTES,
        run: work((m) => m.workStart),
      },
      block: {
        args: ['<workItemId>'],
        summary: 'Block a work item',
        options: { source, reason: { type: 'string', value: '<text>', help: 'Why (required)' }, json },
        notes: API_NOTES,
        run: work((m) => m.workBlock),
      },
      complete: {
        args: ['<workItemId>'],
        summary: 'Complete a work item; its side effect runs on the server',
        options: {
          source,
          set: { type: 'string', multiple: true, value: 'key=value', help: 'A result field (repeatable)' },
          result: { type: 'string', value: '<json>', help: 'The result as a JSON object' },
          'report-file': { type: 'string', value: '<csv>', help: 'A delivery report to attach' },
          notes: { type: 'string', value: '<text>', help: 'A note' },
          json,
        },
        notes: API_NOTES,
        run: work((m) => m.workComplete),
      },
      cancel: {
        args: ['<workItemId>'],
        summary: 'Cancel a work item',
        options: { source, reason: { type: 'string', value: '<text>', help: 'Why (required)' }, json },
        notes: API_NOTES,
        run: work((m) => m.workCancel),
      },
      'follow-up': {
        args: ['<workItemId>'],
        summary: "Open the line's next report after this UPLOAD_FINAL_REPORT item (the C7 report after the live one)",
        options: {
          source,
          due: { type: 'string', value: '<timestamp>', help: 'When it is due, UTC (e.g. 2027-01-20T00:00:00Z)' },
          notes: { type: 'string', value: '<text>', help: 'Why it is opened' },
          json,
        },
        notes: [...API_NOTES, 'Refused (409) for a line released or expired, or one with a report item still open. See docs/execution-and-work-queue.md.'],
        run: work((m) => m.workFollowUp),
      },
    },
  },
  finalize: {
    summary: 'Hand a held reservation to execution',
    verbs: {
      summary: 'Hand a held reservation to execution (trafficking, Cadent XML, work items).',
      options: {
        source,
        'media-buy': { type: 'string', value: '<id>', help: 'The media buy (required)' },
        avail: { type: 'string', value: '<availId>', help: 'The avail (or --product)' },
        product: { type: 'string', value: '<productId>', help: 'The product (or --avail)' },
        campaign: { type: 'string', value: '<name>', help: 'Campaign name (required)' },
        advertiser: { type: 'string', value: '<name>', help: 'Advertiser name (required)' },
        package: { type: 'string', value: '<id>', help: 'The package' },
        buyer: { type: 'string', value: '<n>', help: 'Buyer customer id' },
        'creative-url': { type: 'string', value: '<url>', help: 'Creative asset URL (with --duration)' },
        'creative-format': { type: 'string', value: '<format>', help: 'Creative format (default video)' },
        duration: { type: 'string', value: '<seconds>', help: 'Creative duration' },
        'ad-id': { type: 'string', value: '<code>', help: 'Ad-ID of the creative' },
        json,
      },
      notes: API_NOTES,
      run: work((m) => m.finalize),
    },
  },
  sandbox: {
    summary: "Reset the storefront's sandbox",
    verbs: {
      reset: {
        summary: "Delete the storefront's sandbox buys, holds, accounts, tasks and replay records and rebuild its sandbox source",
        options: { json },
        notes: API_NOTES,
        run: async (input) => (await import('./sandbox-commands.ts')).sandboxReset(input),
      },
    },
  },
}

export function isSingleVerb(verbs: CommandSpec['verbs']): verbs is VerbSpec {
  return typeof (verbs as VerbSpec).run === 'function'
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows: [string, string][] = Object.entries(options).map(([name, option]) => [
    `--${name}${option.type === 'string' ? ` ${option.value ?? '<value>'}` : ''}`,
    `${option.help}${option.multiple ? ' (repeatable)' : ''}`,
  ])
  rows.push(['-h, --help', 'Show this help'])
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`)
}

function synopsis(name: string, verb: VerbSpec): string {
  return [name, ...(verb.args ?? []), ...(Object.keys(verb.options).length > 0 ? ['[options]'] : [])].join(' ')
}

/** `storefront work list --help`. */
export function verbUsage(name: string, verb: VerbSpec): string {
  return [
    `Usage: ${synopsis(name, verb)}`,
    '',
    verb.summary,
    '',
    'Options:',
    ...optionLines(verb.options),
    ...(verb.notes ? ['', ...verb.notes] : []),
  ].join('\n')
}

/** `storefront work --help`: every verb of the command. */
export function commandUsage(command: string): string {
  const spec = COMMANDS[command]!
  if (isSingleVerb(spec.verbs)) return verbUsage(`storefront ${command}`, spec.verbs)
  const verbs = Object.entries(spec.verbs)
  const width = Math.max(...verbs.map(([verb]) => verb.length)) + 2
  return [
    `Usage: storefront ${command} <verb> [options]`,
    '',
    spec.summary,
    '',
    'Verbs:',
    ...verbs.map(([verb, spec]) => `  ${verb.padEnd(width)}${spec.summary.split('. ')[0]!.replace(/\.$/, '')}`),
    '',
    `Run storefront ${command} <verb> --help for its options.`,
  ].join('\n')
}

/** `storefront --help`. */
export function topUsage(version: string): string {
  const rows = Object.entries(COMMANDS).map(([name, spec]) => [
    isSingleVerb(spec.verbs) ? name : `${name} ${Object.keys(spec.verbs).join('|')}`,
    spec.summary,
  ] as const)
  const width = Math.max(...rows.map(([name]) => name.length)) + 2
  return [
    `storefront ${version}: an open, self-hostable storefront for advertising sellers`,
    '',
    'Usage: storefront <command> [<verb>] [options]',
    '',
    'Commands:',
    ...rows.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`),
    '',
    'Options:',
    '  -h, --help     Show help (also after any command or verb: storefront work list --help)',
    '  -V, --version  Print the version',
    '',
    'Configuration comes from the environment; see README.md ("Configuration" and "The storefront command").',
  ].join('\n')
}
