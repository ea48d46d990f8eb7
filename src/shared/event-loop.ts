import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * A loop over data that is already in memory (a parsed JSON body, a CSV string, buffered
 * records) runs on promise callbacks alone, which never let timers or sockets run: a
 * 10,000-column CSV held every other request for 8 s. Such loops await the function this
 * returns once per item; it gives the event loop a turn when the current slice has run
 * for `sliceMs`, so other requests wait at most about one slice.
 */
export function createYielder(sliceMs = 10): () => Promise<void> {
  let sliceStart = performance.now()
  return async () => {
    if (performance.now() - sliceStart < sliceMs) return
    await nextTurn()
    sliceStart = performance.now()
  }
}
