import type { NormalizedAvail } from '../modules/avails-feed/index.ts'

/**
 * Demo avails of a Dutch broadcaster's CTV and addressable inventory. Flights start on the first
 * of the month after `now`, so they stay sellable whenever the demo is built.
 */
export function demoAvails(now: Date): NormalizedAvail[] {
  const monthStart = (offset: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1))
  const monthEnd = (offset: number) => new Date(monthStart(offset + 1).getTime() - 1000)
  const label = (offset: number) => monthStart(offset).toISOString().slice(0, 7)

  const avail = (
    offset: number,
    slug: string,
    collection: { id: string; name: string; description: string },
    fields: Pick<NormalizedAvail, 'name' | 'channel' | 'impressionsCapacity' | 'cpm' | 'targeting'> & { upstream?: number },
  ): NormalizedAvail => ({
    availId: `${slug}-${label(offset)}`,
    collectionId: collection.id,
    collectionName: collection.name,
    collectionDescription: collection.description,
    name: `${fields.name} ${label(offset)}`,
    channel: fields.channel,
    startTime: monthStart(offset).toISOString(),
    endTime: monthEnd(offset).toISOString(),
    impressionsCapacity: fields.impressionsCapacity,
    upstreamBookedImpressions: fields.upstream ?? 0,
    cpm: fields.cpm,
    currency: 'EUR',
    targeting: fields.targeting,
    sourceMetadata: { publisher: 'Talpa Network', demo: true },
  })

  const kijk = { id: 'kijk-ctv', name: 'KIJK Connected TV', description: 'Long-form video on the KIJK app on smart TVs.' }
  const addressable = { id: 'talpa-addressable', name: 'Talpa Addressable TV', description: 'Addressable ad slots in linear broadcasts, delivered through Cadent.' }
  return [
    avail(1, 'kijk-ctv-prime', kijk, {
      name: 'KIJK CTV prime time',
      channel: 'CTV',
      impressionsCapacity: 2_400_000,
      cpm: 28,
      targeting: { market: 'NL', screen: 'CTV', daypart: 'PRIME' },
      upstream: 600_000,
    }),
    avail(1, 'kijk-ctv-daytime', kijk, {
      name: 'KIJK CTV daytime',
      channel: 'CTV',
      impressionsCapacity: 3_600_000,
      cpm: 18,
      targeting: { market: 'NL', screen: 'CTV', daypart: 'DAYTIME' },
    }),
    avail(1, 'sbs6-addressable-entertainment', addressable, {
      name: 'SBS6 addressable entertainment',
      channel: 'ADDRESSABLE_TV',
      impressionsCapacity: 1_200_000,
      cpm: 35,
      targeting: { market: 'NL', network: 'SBS6', genre: 'ENTERTAINMENT' },
    }),
    avail(2, 'veronica-addressable-sports', addressable, {
      name: 'Veronica addressable sports',
      channel: 'ADDRESSABLE_TV',
      impressionsCapacity: 800_000,
      cpm: 32,
      targeting: { market: 'NL', network: 'Veronica', genre: 'SPORTS' },
    }),
    avail(2, 'kijk-ctv-drama', kijk, {
      name: 'KIJK CTV drama',
      channel: 'CTV',
      impressionsCapacity: 1_500_000,
      cpm: 22,
      targeting: { market: 'NL', screen: 'CTV', genre: 'DRAMA' },
    }),
  ]
}
