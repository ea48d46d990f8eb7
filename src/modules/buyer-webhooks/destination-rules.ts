import { BlockList, isIP } from 'node:net'

/**
 * Which webhook URLs a buyer may register, decided when the URL is named (so no notification is
 * promised that could never be sent). The sender enforces the same line again at send time, with
 * the address DNS gives (the SDK's pin-and-bind fetch), for names that resolve to private addresses.
 */

// Loopback, unspecified, RFC 1918, CGNAT (RFC 6598), link-local, multicast and reserved ranges, and
// their IPv6 counterparts, including the NAT64 and 6to4 wrappers around IPv4 addresses.
const PRIVATE_RANGES = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.168.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE_RANGES.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2002::', 16],
] as const) PRIVATE_RANGES.addSubnet(network, prefix, 'ipv6')

/** Why this URL cannot receive this key's webhooks, or null. Sandbox keys may name loopback and private receivers over plain http. */
export function webhookUrlProblem(url: string, { sandbox }: { sandbox: boolean }): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'is not an absolute URL'
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return `must be an https:// URL, not ${parsed.protocol}`
  if (sandbox) return null
  if (parsed.protocol === 'http:') return 'a live buyer key needs an https:// webhook URL (plain http is accepted for sandbox keys only)'
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return 'names a loopback host (accepted for sandbox keys only)'
  const family = isIP(host)
  if (family !== 0 && PRIVATE_RANGES.check(host, family === 4 ? 'ipv4' : 'ipv6')) return 'names a private or loopback address (accepted for sandbox keys only)'
  return null
}
