import { StorefrontError } from './errors.ts'

/**
 * One rule for "this looks like a credential", used wherever a value is stored and shown in
 * clear: keys of setup metadata and module config, and the query parameters of the URLs an
 * operator gives (endpointUrl, cadentEndpointUrl, feedUrl). Credentials have write-only fields.
 */

// Invisible characters that would otherwise split a word past the check: t\u200Boken.
const ZERO_WIDTH = /[\u00AD\u180E\u200B-\u200D\u2060\uFEFF]/g

// NFKC folds fullwidth and mathematical letters to ASCII but leaves other scripts alone; these
// Cyrillic and Greek letters are drawn like the Latin ones of the words below.
const LOOK_ALIKES: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  і: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ԝ: 'w', ԛ: 'q',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X', І: 'I', Ј: 'J', Ѕ: 'S',
  α: 'a', ε: 'e', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x',
  Α: 'A', Β: 'B', Ε: 'E', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Χ: 'X',
}
const LOOK_ALIKE_PATTERN = new RegExp(`[${Object.keys(LOOK_ALIKES).join('')}]`, 'g')

/**
 * Found anywhere in the name once separators are dropped and case is ignored: no ordinary
 * field name contains them (refreshToken, x-api-key, client_secret, AWS X-Amz-Signature).
 */
const SECRET_FRAGMENTS = [
  'token', 'password', 'passwd', 'passphrase', 'pwd', 'secret', 'credential', 'authorization', 'bearer', 'cookie', 'jwt',
  'signature', 'apikey', 'accesskey', 'privatekey', 'signingkey', 'secretkey', 'authkey', 'passkey', 'sessionkey',
  'masterkey', 'encryptionkey', 'hmackey', 'clientkey', 'appkey',
]

/**
 * Short words that are secrets only as a whole word of the name (authKey, key, x-auth, sig):
 * as fragments they would refuse author, keyword, monkey, bypass or design.
 */
const SECRET_WORDS = new Set(['auth', 'key', 'keys', 'pass', 'pw', 'sig'])

/** NFKC, without invisible characters and with look-alike letters folded; case is kept for word splitting. */
export function normalizeName(name: string): string {
  return name.normalize('NFKC').replace(ZERO_WIDTH, '').replace(LOOK_ALIKE_PATTERN, (letter) => LOOK_ALIKES[letter]!)
}

/** True when a key or query parameter name reads as a credential. */
export function looksLikeSecretName(name: string): boolean {
  const normalized = normalizeName(name)
  const compact = normalized.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '')
  if (SECRET_FRAGMENTS.some((fragment) => compact.includes(fragment))) return true
  if (SECRET_WORDS.has(compact)) return true
  const words = normalized
    .replace(/(\p{Ll}|\p{N})(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
  return words.some((word) => SECRET_WORDS.has(word))
}

export interface ClearTextSecret {
  path: string
  /** KEY: the key is named like a credential; URL: the string value is a URL carrying one. */
  kind: 'KEY' | 'URL'
  message: string
}

// A string that names a scheme and an authority can carry user-info or a signed query.
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i

/**
 * Every place a JSON value would store a credential in clear, in document order: keys named like
 * one, and URL strings carrying one. Iterative, so a deeply nested value cannot overflow the
 * stack however the body reached us.
 */
export function findClearTextSecrets(value: unknown, credentialHint: string): ClearTextSecret[] {
  const found: ClearTextSecret[] = []
  const pending: Array<{ value: unknown; path: string; key: string | null }> = [{ value, path: '', key: null }]
  while (pending.length > 0) {
    const { value: current, path, key } = pending.pop()!
    if (key !== null && looksLikeSecretName(key)) found.push({ path, kind: 'KEY', message: 'looks like a secret and is refused' })
    if (typeof current === 'string' && URL_LIKE.test(current)) {
      const problem = urlCredentialProblem(current, credentialHint)
      if (problem) found.push({ path, kind: 'URL', message: problem })
    }
    if (current === null || typeof current !== 'object') continue
    const children = Array.isArray(current)
      ? current.map((item, index) => ({ value: item as unknown, path: `${path}[${index}]`, key: null }))
      : Object.entries(current).map(([name, inner]) => ({ value: inner, path: path ? `${path}.${name}` : name, key: name }))
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i]!)
  }
  return found
}

/** The dotted paths of every secret-looking key inside a JSON value, in document order. */
export function findSecretLikeKeys(value: unknown): string[] {
  return findClearTextSecrets(value, '').filter((found) => found.kind === 'KEY').map((found) => found.path)
}

/**
 * Refuses a value that would store a credential in clear, with 400 SECRET_NOT_ALLOWED naming each
 * path. `where` names the value for the message; `credentialHint` says where credentials go instead.
 */
export function refuseClearTextSecrets(value: unknown, options: { pathPrefix: string; where: string; credentialHint: string }): void {
  const found = findClearTextSecrets(value, options.credentialHint)
  if (found.length === 0) return
  throw new StorefrontError('VALIDATION_ERROR', `Secrets are not accepted in ${options.where}; ${options.credentialHint}`, {
    reason: 'SECRET_NOT_ALLOWED',
    issues: found.map((issue) => ({
      path: options.pathPrefix && issue.path ? `${options.pathPrefix}.${issue.path}` : options.pathPrefix || issue.path,
      message: issue.message,
    })),
  })
}

/**
 * Why a URL must not be stored in clear, or null when it may: a user name or password, or a query
 * parameter named like a credential. `credentialHint` names where the credential belongs instead.
 */
export function urlCredentialProblem(value: string, credentialHint: string): string | null {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.username || url.password) return `must not carry a user name or password; ${credentialHint}`
  const names = [...new Set([...url.searchParams.keys()])].filter(looksLikeSecretName)
  if (names.length > 0) {
    return `must not carry credentials in its query (${names.map((name) => JSON.stringify(name)).join(', ')}); ${credentialHint}`
  }
  return null
}
