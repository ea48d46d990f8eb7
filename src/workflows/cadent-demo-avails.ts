import { noTvTerms, type NormalizedAvail } from '../modules/avails-feed/index.ts'

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
    ...noTvTerms(),
    targeting: fields.targeting,
    sourceMetadata: { publisher: 'Talpa Network', demo: true },
  })

  const kijk = { id: 'kijk-ctv', name: 'KIJK Connected TV', description: 'Long-form video on the KIJK app on smart TVs.' }
  const addressable = { id: 'talpa-addressable', name: 'Talpa Addressable TV', description: 'Addressable ad slots in linear broadcasts, delivered through Cadent.' }
  const ctv = (daypartOrGenre: Record<string, string>) => ({ market: 'NL', screen: 'CTV', ...daypartOrGenre })
  const linear = (network: string, genre: string) => ({ market: 'NL', network, genre })
  // month offset, slug, collection, name, impressions, CPM, targeting, already booked upstream
  const rows: [number, string, typeof kijk, string, number, number, Record<string, string>, number?][] = [
    [1, 'kijk-ctv-prime', kijk, 'KIJK CTV prime time', 2_400_000, 28, ctv({ daypart: 'PRIME' }), 600_000],
    [1, 'kijk-ctv-daytime', kijk, 'KIJK CTV daytime', 3_600_000, 18, ctv({ daypart: 'DAYTIME' })],
    [1, 'sbs6-addressable-entertainment', addressable, 'SBS6 addressable entertainment', 1_200_000, 35, linear('SBS6', 'ENTERTAINMENT')],
    [2, 'veronica-addressable-sports', addressable, 'Veronica addressable sports', 800_000, 32, linear('Veronica', 'SPORTS')],
    [2, 'kijk-ctv-drama', kijk, 'KIJK CTV drama', 1_500_000, 22, ctv({ genre: 'DRAMA' })],
  ]
  return rows.map(([offset, slug, collection, name, impressionsCapacity, cpm, targeting, upstream]) =>
    avail(offset, slug, collection, {
      name,
      channel: collection === kijk ? 'CTV' : 'ADDRESSABLE_TV',
      impressionsCapacity,
      cpm,
      targeting,
      ...(upstream === undefined ? {} : { upstream }),
    }))
}
