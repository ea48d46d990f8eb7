/** A minimal server-sent-events client over fetch, for tests: it keeps every frame it reads. */

export interface SseFrame {
  event: string
  data: string
  /** Comment lines (`: heartbeat`) in the frame. */
  comments: string[]
  retry?: number
}

export interface SseStream {
  status: number
  headers: Headers
  /** The body when the server refused the stream (not text/event-stream). */
  body: string
  frames: SseFrame[]
  /** Resolves with the first frame (already read or still to come) after `from` that matches. */
  next(match: (frame: SseFrame) => boolean, options?: { timeoutMs?: number; from?: number }): Promise<SseFrame>
  /** Resolves once the server has ended the stream. */
  ended: Promise<void>
  close(): void
}

export async function openSse(url: string, key: string | null): Promise<SseStream> {
  const abort = new AbortController()
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    signal: abort.signal,
  })
  const frames: SseFrame[] = []
  const waiters = new Set<() => void>()
  const isStream = response.ok && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')
  let ended: Promise<void> = Promise.resolve()
  let finished = !isStream
  let body = ''
  if (!isStream) {
    body = await response.text()
  } else {
    ended = (async () => {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          buffer += value
          let end
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const frame: SseFrame = { event: 'message', data: '', comments: [] }
            const data: string[] = []
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) frame.comments.push(line.slice(1).trim())
              else if (line.startsWith('event:')) frame.event = line.slice(6).trim()
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
              else if (line.startsWith('retry:')) frame.retry = Number(line.slice(6).trim())
            }
            frame.data = data.join('\n')
            frames.push(frame)
            for (const check of [...waiters]) check()
          }
        }
      } catch {
        // Aborted by close(): the stream ends here.
      } finally {
        finished = true
        for (const check of [...waiters]) check()
      }
    })()
  }
  return {
    status: response.status,
    headers: response.headers,
    body,
    frames,
    ended,
    close: () => abort.abort(),
    next(match, { timeoutMs = 5_000, from = 0 } = {}) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no matching event in ${timeoutMs} ms; frames so far: ${JSON.stringify(frames)}`))
        }, timeoutMs)
        const check = () => {
          const found = frames.slice(from).find(match)
          if (found) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve(found)
          } else if (finished) {
            clearTimeout(timer)
            waiters.delete(check)
            reject(new Error(`the stream ended without a matching event; frames: ${JSON.stringify(frames)}`))
          }
        }
        waiters.add(check)
        check()
      })
    },
  }
}

/** The parsed data of the `work-item` frames read so far. */
export function workItemEvents(stream: SseStream): Array<Record<string, string>> {
  return stream.frames.filter((frame) => frame.event === 'work-item').map((frame) => JSON.parse(frame.data) as Record<string, string>)
}
