import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export type RelayMode = 'pass' | 'hang' | 'fail'

/** A relay to a real agent that can be made to hang (never answer) or answer HTTP 500. */
export async function startRelay(target: string): Promise<{ url: string; mode: RelayMode; close(): Promise<void> }> {
  const state = { mode: 'pass' as RelayMode }
  const server: Server = createServer((req: IncomingMessage, res) => {
    if (state.mode === 'hang') return
    if (state.mode === 'fail') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream exploded')
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name)).map(([name, value]) => [name, String(value)]))
      fetch(target, { method: req.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) })
        .then(async (answer) => {
          const out: Record<string, string> = {}
          answer.headers.forEach((value, name) => {
            if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name)) out[name] = value
          })
          res.writeHead(answer.status, out)
          res.end(Buffer.from(await answer.arrayBuffer()))
        })
        .catch(() => res.writeHead(502).end())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    get mode() {
      return state.mode
    },
    set mode(mode: RelayMode) {
      state.mode = mode
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
