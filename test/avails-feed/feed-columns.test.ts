import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { feedColumnsOf } from '../../src/modules/avails-feed/index.ts'
import { parseAvailsFeedAll } from '../../src/modules/avails-feed/parse-feed.ts'

const csv = [
  '',
  'Avail ID,Collection,Name,Start Date,End Date,Impressions,Market,Notes',
  'a-1,CTV,Prime,2027-01-01,2027-01-31,lots,Netherlands,x',
  '',
].join('\n')

describe('the columns of a sheet feed, planned as the parser plans them', () => {
  it('names each column by letter and header with the field its errors carry', async () => {
    const columns = await feedColumnsOf({ kind: 'csv', text: csv })
    assert.deepEqual(columns.map((c) => [c.letter, c.header, c.field]), [
      ['A', 'Avail ID', 'availId'],
      ['B', 'Collection', 'collectionName'],
      ['C', 'Name', 'name'],
      ['D', 'Start Date', 'startTime'],
      ['E', 'End Date', 'endTime'],
      ['F', 'Impressions', 'impressionsCapacity'],
      ['G', 'Market', 'targeting.market'],
      ['H', 'Notes', 'sourceMetadata.notes'],
    ])
    const parsed = await parseAvailsFeedAll({ kind: 'csv', text: csv }, { now: new Date('2026-12-01T00:00:00Z') })
    const [error] = parsed.errors
    assert.equal(error?.row, 3, 'the blank first line counts as a spreadsheet row')
    assert.equal(columns.find((c) => c.field === error?.field)?.letter, 'F')
  })

  it('follows columnMapping and reads a file stream up to the header only', async () => {
    const columns = await feedColumnsOf(
      { kind: 'csv-file', stream: Readable.from([Buffer.from('Code,Title\nx,y\n')]) },
      { columnMapping: { Code: 'availId', Title: 'ignore' } },
    )
    assert.deepEqual(columns.map((c) => [c.letter, c.field]), [['A', 'availId'], ['B', null]])
  })

  it('has no columns for JSON rows or an empty feed', async () => {
    assert.deepEqual(await feedColumnsOf({ kind: 'rows', rows: [{ availId: 'a' }] }), [])
    assert.deepEqual(await feedColumnsOf({ kind: 'csv', text: '\n\n' }), [])
  })
})
