import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

export const repoRoot = path.resolve(import.meta.dirname, '../..')
const cliEntry = path.join(repoRoot, 'src/cli/main.ts')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `storefront <args>` as a real process, as an operator would. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 180_000): Promise<CliResult> {
  return runNode(['--import', 'tsx', cliEntry, ...args], env, timeoutMs)
}

/** Runs `bin/storefront.js <args>`, what `npx storefront` runs: the CLI from its cached bundle. */
export function runBin(args: string[], env: Record<string, string>, timeoutMs = 180_000): Promise<CliResult> {
  return runNode([path.join(repoRoot, 'bin/storefront.js'), ...args], env, timeoutMs)
}

function runNode(nodeArgs: string[], env: Record<string, string>, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => { stdout += chunk })
    child.stderr.on('data', (chunk) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node ${nodeArgs.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

export interface ServerProcess {
  child: ChildProcess
  url: string
  output(): string
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `storefront serve` and resolves once it prints where it listens. */
export function startServerProcess(env: Record<string, string>, timeoutMs = 180_000, root = repoRoot): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    // `root`: another checkout of the project (a benchmark's "before" build); its node_modules resolve from there.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve'], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    let listening = false
    let stopping = false
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match && !listening) {
        listening = true
        clearTimeout(timer)
        // A server that dies under a test leaves only "connection refused" behind: say why it died
        // (not when the test signalled it itself: child.killed).
        void exited.then((code) => {
          if (!stopping && !child.killed) process.stderr.write(`storefront server ${match[1]} exited with ${code ?? child.signalCode} while still in use:\n${output}\n`)
        })
        resolve({
          child,
          url: match[1]!,
          output: () => output,
          async stop(signal = 'SIGTERM') {
            stopping = true
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            return exited
          },
        })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${output}`))
    })
  })
}

/**
 * `count` servers of one environment on one database, started one after the other: the first applies
 * the migrations and registers the bootstrap key, and the others find both done. If one fails to
 * start, the ones already running are stopped before the error is thrown.
 */
export async function startServerProcesses(count: number, env: Record<string, string>, timeoutMs?: number, root?: string): Promise<ServerProcess[]> {
  const servers: ServerProcess[] = []
  try {
    for (let i = 0; i < count; i++) servers.push(await startServerProcess(env, timeoutMs, root))
  } catch (error) {
    for (const server of servers) await server.stop()
    throw error
  }
  return servers
}

export interface NpmStartProcess {
  child: ChildProcess
  output(): string
  /** Resolves with the first match of `pattern` in the output so far or to come. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  /** Resolves with the exit code (or signal) once the npm process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Runs `npm start` as a process manager would: the signal goes to the npm process, not its group. */
export function spawnNpmStart(env: Record<string, string>): NpmStartProcess {
  const child = spawn('npm', ['start'], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    output += chunk
    for (const check of waiters) check()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('close', (code, signal) => done({ code, signal })))
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no ${pattern} in ${timeoutMs} ms:\n${output}`))
        }, timeoutMs)
        const check = () => {
          const match = pattern.exec(output)
          if (!match) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(match)
        }
        waiters.add(check)
        check()
      })
    },
  }
}
