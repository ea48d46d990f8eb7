/**
 * Text that came from an external system, made storable and printable: control characters (U+0000
 * among them, which PostgreSQL refuses in text and jsonb) become spaces, lone surrogates U+FFFD.
 */
export function printable(text: string): string {
  // With the u flag a surrogate only matches \p{Cs} when it is not half of a pair.
  return text.replace(/\p{Cs}/gu, '\ufffd').replace(/\p{Cc}/gu, ' ')
}
