/** The generated 100,000-row seller feed of bench/avails-ingest.ts, shared with bench/startup.ts. */
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'

const YEAR = new Date().getUTCFullYear() + 1

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

/** The seller's file (header spellings, thousands separators, date-only values) and the same rows normalized for COPY. */
export async function generateFeedFiles(dir: string, rows: number): Promise<{ feed: string; normalized: (sourceRowId: number) => Promise<string> }> {
  const feed = path.join(dir, `avails-${rows}.csv`)
  const out = createWriteStream(feed)
  const write = async (line: string) => {
    if (!out.write(line)) await once(out, 'drain')
  }
  await write('Avail ID,Collection,Name,Channel,Start Date,End Date,Impressions,CPM,Currency,Market,Screen,Publisher\n')
  for (let i = 0; i < rows; i++) {
    const capacity = (1_000_000 + i).toLocaleString('en-US')
    await write(`avail-${i},Collection ${i % 50},Avail ${i} prime time CTV,CTV,${YEAR}-01-01,${YEAR}-03-31,"${capacity}",22.50,USD,Market ${i % 20},CTV,Example Network\n`)
  }
  out.end()
  await once(out, 'finish')

  return {
    feed,
    async normalized(sourceRowId: number) {
      const file = path.join(dir, `normalized-${sourceRowId}.csv`)
      const copy = createWriteStream(file)
      const now = new Date().toISOString()
      for (let i = 0; i < rows; i++) {
        const line = [
          String(sourceRowId), `avail-${i}`, `collection-${i % 50}`, `Collection ${i % 50}`, '', `Avail ${i} prime time CTV`, 'CTV',
          `${YEAR}-01-01T00:00:00.000Z`, `${YEAR}-03-31T23:59:59.000Z`, String(1_000_000 + i), '0', '22.5', 'USD',
          JSON.stringify({ market: `Market ${i % 20}`, screen: 'CTV' }), JSON.stringify({ publisher: 'Example Network' }), 'ACTIVE', now, now,
        ].map(csvCell).join(',')
        if (!copy.write(`${line}\n`)) await once(copy, 'drain')
      }
      copy.end()
      await once(copy, 'finish')
      return file
    },
  }
}

