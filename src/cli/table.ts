/**
 * Text from the server (names, ids, notes, error messages echoing a request) may hold control
 * characters; printed raw, an ESC starts a terminal escape that can rewrite the screen or the
 * window title. Every value the CLI prints from the server goes through this: control characters
 * (C0, DEL, C1, line breaks included) are shown as \u001b-style escapes, so they stay visible.
 */
export function terminalText(text: string): string {
  return text.replace(/\p{Cc}/gu, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** JSON for the terminal: JSON.stringify escapes C0 but writes DEL and C1 (e.g. U+009B, CSI) raw. */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** A plain-text table for terminals: columns padded to their widest cell, cells made safe to print. */
export function renderTable(headers: string[], rows: string[][]): string {
  const safeRows = rows.map((row) => row.map((cell) => terminalText(cell)))
  const widths = headers.map((header, column) => Math.max(header.length, ...safeRows.map((row) => (row[column] ?? '').length)))
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...safeRows.map(line)].join('\n')
}
