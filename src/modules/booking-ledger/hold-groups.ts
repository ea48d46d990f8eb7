/**
 * Groups concurrent holds on one avail, in this process, so they share one transaction (one
 * conditional UPDATE of the avail, one INSERT of all their reservations and entries) instead of
 * queueing one durable commit each on the avail's row lock.
 *
 * A group opens with the first request for its key and goes out when the first of these happens:
 * no group of that key is in flight here (then it leaves on the next turn of the event loop, so
 * an idle avail adds no wait), it has `maxSize` members, or its oldest member has waited
 * `maxWaitMs`. Each member's promise settles with its own answer once the group's statement has
 * committed (or the run decided its fate another way): `run` owns that.
 */

export interface HoldGroupOptions {
  /** The longest a request waits for companions while a group of its key is in flight. */
  maxWaitMs: number
  /** A group of this many leaves at once. 1 sends every request on its own. */
  maxSize: number
}

export const HOLD_GROUP_DEFAULTS: HoldGroupOptions = { maxWaitMs: 2, maxSize: 64 }

export interface Pending<Input, Result> {
  input: Input
  resolve: (result: Result) => void
  reject: (error: unknown) => void
}

interface OpenGroup<Input, Result> {
  members: Pending<Input, Result>[]
  cancel: () => void
}

export function createHoldGroups<Input, Result>(
  options: HoldGroupOptions,
  run: (members: Pending<Input, Result>[]) => Promise<void>,
) {
  const open = new Map<string, OpenGroup<Input, Result>>()
  const inFlight = new Map<string, number>()

  function dispatch(key: string): void {
    const group = open.get(key)
    if (!group) return
    open.delete(key)
    group.cancel()
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1)
    run(group.members)
      .catch((error: unknown) => {
        // run answers every member itself; this is the net for a bug in it.
        for (const member of group.members) member.reject(error)
      })
      .finally(() => {
        const left = inFlight.get(key)! - 1
        if (left === 0) inFlight.delete(key)
        else inFlight.set(key, left)
        // What gathered while this group was in flight leaves now, without waiting out its timer.
        if (left === 0 && open.has(key)) dispatch(key)
      })
  }

  function submit(key: string, input: Input): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let group = open.get(key)
      if (!group) {
        if (inFlight.has(key)) {
          const timer = setTimeout(() => dispatch(key), options.maxWaitMs)
          group = { members: [], cancel: () => clearTimeout(timer) }
        } else {
          const immediate = setImmediate(() => dispatch(key))
          group = { members: [], cancel: () => clearImmediate(immediate) }
        }
        open.set(key, group)
      }
      group.members.push({ input, resolve, reject })
      if (group.members.length >= options.maxSize) dispatch(key)
    })
  }

  return { submit }
}
