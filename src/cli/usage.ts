/**
 * The CLI's help text, apart from the commands so that `storefront --help` loads nothing else:
 * each command's module (and with it the server, the database driver) is imported only when run.
 */

export const AVAILS_USAGE = `  avails import <file> --source <sourceId> [--commit] [--sheet <name>] [--map "Header=field" ...]
                    [--replace-missing] [--json]
                                          Upload a .csv or .xlsx avails feed to a running server, print the
                                          preview, and with --commit commit it (STOREFRONT_URL, STOREFRONT_API_KEY)`

export const WORK_USAGE = `  work list --source <id> [--status OPEN,BLOCKED] [--kind <KIND>] [--media-buy <id>] [--limit <n>]
                                          List work items (default: open ones)
  work show --source <id> <workItemId> [--xml]
                                          Show a work item and its events (--xml prints its Cadent XML)
  work start --source <id> <workItemId> --assignee <name>
  work block --source <id> <workItemId> --reason <text>
  work complete --source <id> <workItemId> [--set key=value]... [--result <json>] [--report-file <csv>] [--notes <text>]
                                          Complete a work item; its side effect runs on the server
  work cancel --source <id> <workItemId> --reason <text>
  finalize --source <id> --media-buy <id> (--avail <id> | --product <id>) --campaign <name> --advertiser <name>
           [--package <id>] [--buyer <n>] [--creative-url <url> --creative-format <f> --duration <s> [--ad-id <code>]]
                                          Hand a held reservation to execution
  (work and finalize talk to a running server: STOREFRONT_URL, default http://127.0.0.1:3000, and STOREFRONT_API_KEY;
   --source defaults to STOREFRONT_SOURCE; --json prints the API answer)`

export const SANDBOX_USAGE = `  sandbox reset [--json]                  Delete the storefront's sandbox buys, holds, accounts, tasks and replay
                                          records and rebuild its sandbox source (STOREFRONT_URL, STOREFRONT_API_KEY)`

export const USAGE = `Usage: storefront <command> [options]

Commands:
  serve                                   Start the API, its docs, /mcp and the /console (embedded database unless DATABASE_URL is set)
  migrate                                 Apply pending database migrations and exit
  keys create --storefront <name> [--label <text>] [--role operator|buyer] [--sandbox] [--json]
                                          Create an API key (and the storefront if new); the key is shown once.
                                          Operator keys (the default) open the REST API; buyer keys the AdCP
                                          agent at /mcp; --sandbox makes a buyer key's accounts sandbox accounts
  keys list [--storefront <name>]         List API keys (prefixes only; keys are stored as hashes)
  keys revoke <id|prefix>                 Revoke an API key
${AVAILS_USAGE}
${WORK_USAGE}
${SANDBOX_USAGE}

Configuration comes from the environment; see README.md ("Configuration").`
