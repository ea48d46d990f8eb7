import v8 from 'node:v8'
import vm from 'node:vm'

/**
 * Runs a full garbage collection now. A closed PGlite's heap (a WebAssembly.Memory of 128 MiB or more)
 * and what start-up left behind (module sources, compile buffers) are returned to the system only
 * when V8 collects them, which an idle server may not do for hours. `--expose-gc` set at run time is
 * how Jest reaches `gc` too.
 */
export function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
}
