/**
 * Product ids are `<sourceId>:<availId>`: sourceIds never contain ':', so the id is unique across
 * sources and splits back. The sandbox source is the one source a sandbox key sees, so its
 * products are named by the avail id alone (seeded fixtures keep exactly the storyboard's id);
 * an avail id that itself holds a ':' keeps the source prefix so the id still splits back.
 */
export function adcpProductId(sourceId: string, availId: string, options: { sandbox?: boolean } = {}): string {
  if (options.sandbox && !availId.includes(':')) return availId
  return `${sourceId}:${availId}`
}

/**
 * The source and avail a product id names, or null when it names none. A bare id (no ':') is an
 * avail of the sandbox source, so only a sandbox key's bare ids resolve (`sandboxSourceId`).
 */
export function parseAdcpProductId(productId: string, sandboxSourceId: string | null): { sourceId: string; availId: string } | null {
  const colon = productId.indexOf(':')
  if (colon === -1) return sandboxSourceId && productId.length > 0 ? { sourceId: sandboxSourceId, availId: productId } : null
  const sourceId = productId.slice(0, colon)
  const availId = productId.slice(colon + 1)
  return sourceId.length > 0 && availId.length > 0 ? { sourceId, availId } : null
}
