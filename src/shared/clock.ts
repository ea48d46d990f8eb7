/**
 * Time is injected so the ledger and work queue can be tested by moving a clock.
 * SQL never calls now(): the current time is always passed in as a parameter.
 */
export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }

export class ManualClock implements Clock {
  #millis: number

  constructor(start: Date | string = '2026-11-01T00:00:00.000Z') {
    this.#millis = new Date(start).getTime()
  }

  now(): Date {
    return new Date(this.#millis)
  }

  advance(milliseconds: number): void {
    this.#millis += milliseconds
  }

  set(to: Date | string): void {
    this.#millis = new Date(to).getTime()
  }
}

export function toIso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null
  return (value instanceof Date ? value : new Date(value)).toISOString()
}
