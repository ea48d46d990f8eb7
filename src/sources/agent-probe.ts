import type { AgentAuth } from './source.schema.ts'

/** What activation needs to know about an agent: where it is and how to talk to it. */
export interface AgentProbeTarget {
  endpointUrl: string
  protocol: 'MCP' | 'A2A'
  authenticationType: string
  auth: AgentAuth | null
}

/** The steps of a probe, in order; a connection test reports each. */
export const PROBE_CHECKS = ['reachability', 'authentication', 'adcp_compliance'] as const
export type ProbeCheck = (typeof PROBE_CHECKS)[number]

export type AgentProbeResult =
  | { ok: true; checkedAt: Date }
  | {
    ok: false
    checkedAt: Date
    reason: 'AGENT_UNREACHABLE' | 'AGENT_NOT_COMPLIANT' | 'AGENT_NOT_PROBED'
    message: string
    /**
     * The check that failed; the earlier ones passed. Absent: reachability for AGENT_UNREACHABLE,
     * adcp_compliance for AGENT_NOT_COMPLIANT, none for AGENT_NOT_PROBED (nothing was checked).
     */
    failedCheck?: ProbeCheck
  }

/**
 * A live check that an agent is a compliant AdCP sales agent. Injected, so tests can use a
 * real protocol peer and the server can use the real client.
 */
export type AgentProbe = (target: AgentProbeTarget) => Promise<AgentProbeResult>

/**
 * The probe used when no live client is wired in: it never pretends an agent passed, so
 * activation is refused with a clear reason instead of being silently accepted.
 */
export const refuseUnprobedAgents: AgentProbe = async () => ({
  ok: false,
  checkedAt: new Date(),
  reason: 'AGENT_NOT_PROBED',
  message: 'This server cannot run the live AdCP agent probe yet, so the source cannot be activated; it stays as it was.',
})
