import { fail } from '../../shared/errors.ts'
import { columnLetter } from './feed-columns.ts'

/**
 * The shape a feed may have. The bounds keep one hostile or broken file from taking the
 * process down: a 16,384-column sheet turned every row into 16,384 metadata keys, held
 * 5,000 rows at a time, and the echo of its first 100 avails was a 19 MB answer.
 * docs/avails-feed.md ("Limits") states them for sellers.
 */

/** Columns of a sheet (and keys of a JSON avail, targeting and sourceMetadata included). */
export const MAX_FEED_COLUMNS = 256

/** Characters in one cell or JSON value: Excel's own limit for a cell. */
export const MAX_CELL_CHARS = 32_767

/** Too many columns: the rest of the file cannot be read as avails, so the request is refused. */
export function tooManyColumns(row: number, columns: number) {
  const column = columnLetter(MAX_FEED_COLUMNS)
  return fail.validation(
    `Row ${row} has ${columns} columns; a feed may have at most ${MAX_FEED_COLUMNS} (column ${column} is the first one too many). ` +
      'Remove the unused columns or split the sheet',
    {
      reason: 'FEED_TOO_WIDE',
      rows: [{ row, field: column, message: `more than ${MAX_FEED_COLUMNS} columns` }],
      maxColumns: MAX_FEED_COLUMNS,
    },
  )
}

// A lone half of a UTF-16 surrogate pair: no UTF-8 form, so the database refuses it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Why a text cannot be stored as it is, or null. PostgreSQL text and jsonb cannot hold
 * U+0000 or a lone surrogate (the insert fails); a cell beyond MAX_CELL_CHARS is no avail data.
 * The sentence completes "<field> ...".
 */
export function textProblem(text: string): string | null {
  if (text.length > MAX_CELL_CHARS) return `has ${text.length} characters; a cell may have at most ${MAX_CELL_CHARS}`
  if (text.includes('\u0000')) return 'contains the NUL character (U+0000), which cannot be stored; remove it'
  if (LONE_SURROGATE.test(text)) return 'contains a broken character (a lone UTF-16 surrogate); save the file as UTF-8 and try again'
  return null
}
