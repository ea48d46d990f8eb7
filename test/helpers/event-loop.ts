/**
 * How long the event loop went without a turn while something ran. On a loaded machine the
 * wall-clock gap between two timer callbacks also counts time the OS gave to other processes,
 * so the bound is checked on the CPU time this process spent between two turns: the time it
 * held every other request up, whatever the machine is doing.
 */
export interface LoopHold {
  /** Most CPU milliseconds spent between two turns of the event loop. */
  longestCpuMs: number
  /** Most wall-clock milliseconds between two turns (for messages; load-dependent). */
  longestWallMs: number
  turns: number
}

export function watchEventLoop(intervalMs = 5): { stop(): LoopHold } {
  const hold: LoopHold = { longestCpuMs: 0, longestWallMs: 0, turns: 0 }
  let lastWall = performance.now()
  let lastCpu = process.cpuUsage()
  const observe = () => {
    const wall = performance.now()
    const cpu = process.cpuUsage(lastCpu)
    hold.longestWallMs = Math.max(hold.longestWallMs, wall - lastWall)
    hold.longestCpuMs = Math.max(hold.longestCpuMs, (cpu.user + cpu.system) / 1000)
    hold.turns += 1
    lastWall = wall
    lastCpu = process.cpuUsage()
  }
  const timer = setInterval(observe, intervalMs)
  return {
    stop() {
      observe()
      clearInterval(timer)
      return hold
    },
  }
}
