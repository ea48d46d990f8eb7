// The slice of autocannon's API the benchmarks use (the package ships no types).
declare module 'autocannon' {
  interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
    setupRequest?: (request: AutocannonRequest) => AutocannonRequest
  }
  interface AutocannonOptions {
    url: string
    connections?: number
    duration?: number
    /** A fixed number of requests instead of a duration. */
    amount?: number
    pipelining?: number
    headers?: Record<string, string>
    requests?: AutocannonRequest[]
  }
  interface AutocannonResult {
    requests: { average: number; total: number }
    latency: { p50: number; p99: number; average: number }
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
  }
  function autocannon(options: AutocannonOptions): Promise<AutocannonResult>
  export default autocannon
}
