import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * The ed25519 key the AdCP agent signs its webhooks with (RFC 9421, profile
 * adcp/webhook-signing/v1). Buyers verify against the public half, published as a JWKS at
 * /.well-known/jwks.json on the agent's origin (the AdCP fallback when a brand.json names no
 * jwks_uri). The private half never leaves this process: it is not logged, not echoed, and
 * `toJSON` refuses to serialise it by accident.
 */
export interface WebhookSigningKey {
  keyid: string
  /** The private JWK (kty OKP, crv Ed25519, d, x), as the SDK's SignerKey takes it. */
  privateJwk: PrivateJwk
  /** The public JWK as published: AdCP verifiers check alg, adcp_use and key_ops (step 8). */
  publicJwk: PublicJwk
}

export interface PublicJwk {
  kid: string
  kty: 'OKP'
  crv: 'Ed25519'
  x: string
  alg: 'EdDSA'
  use: 'sig'
  adcp_use: 'webhook-signing'
  key_ops: ['verify']
}

export interface PrivateJwk extends Omit<PublicJwk, 'key_ops'> {
  d: string
  key_ops: ['sign']
}

export const WEBHOOK_KEY_FILE = 'webhook-signing-key.json'
export const WEBHOOK_KEY_ENV = 'STOREFRONT_WEBHOOK_SIGNING_KEY'

/** A key refused at boot; the message never contains the key material. */
export class WebhookKeyError extends Error {}

function fromParts(kid: string, x: string, d: string): WebhookSigningKey {
  const common = { kid, kty: 'OKP', crv: 'Ed25519', x, alg: 'EdDSA', use: 'sig', adcp_use: 'webhook-signing' } as const
  const key: WebhookSigningKey = {
    keyid: kid,
    privateJwk: { ...common, d, key_ops: ['sign'] },
    publicJwk: { ...common, key_ops: ['verify'] },
  }
  // A key printed by mistake (a debug log of services) shows its id, never its private half.
  Object.defineProperty(key, 'toJSON', { enumerable: false, value: () => ({ keyid: kid, publicJwk: key.publicJwk }) })
  Object.defineProperty(key.privateJwk, 'toJSON', { enumerable: false, value: () => ({ kid, kty: 'OKP', crv: 'Ed25519', d: '[redacted]' }) })
  return key
}

export function generateWebhookSigningKey(now: Date = new Date()): WebhookSigningKey {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  if (!jwk.x || !jwk.d) throw new Error('node:crypto exported an ed25519 key without x or d')
  // The kid names the key's birth day so a rotation is visible in buyers' verifier logs.
  const kid = `storefront-webhook-${now.toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`
  return fromParts(kid, jwk.x, jwk.d)
}

/**
 * Reads a private ed25519 JWK (JSON) from the environment or the key file. `source` names where it
 * came from in the error, which never quotes the value.
 */
export function parseWebhookSigningKey(text: string, source: string): WebhookSigningKey {
  let jwk: Record<string, unknown>
  try {
    jwk = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new WebhookKeyError(`${source} is not JSON: it must be a private Ed25519 JWK ({"kty":"OKP","crv":"Ed25519","kid":…,"x":…,"d":…})`)
  }
  if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') {
    throw new WebhookKeyError(`${source} must be an Ed25519 JWK (kty "OKP", crv "Ed25519")`)
  }
  const { kid, x, d } = jwk
  if (typeof kid !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(kid)) {
    throw new WebhookKeyError(`${source} needs a kid of 1-128 letters, digits, '.', '_', ':' or '-' (it is published in the JWKS and in every Signature-Input)`)
  }
  if (typeof x !== 'string' || typeof d !== 'string') throw new WebhookKeyError(`${source} needs both x (public) and d (private)`)
  // The halves must belong together: a signature by d verifies with x, or buyers would reject every webhook.
  try {
    const probe = Buffer.from('storefront webhook key check')
    const signature = sign(null, probe, createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x, d }, format: 'jwk' }))
    if (!verify(null, probe, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }), signature)) throw new Error('mismatch')
  } catch {
    throw new WebhookKeyError(`${source}: d and x are not one valid Ed25519 key pair`)
  }
  return fromParts(kid, x, d)
}

function serialise(key: WebhookSigningKey): string {
  const { kid, kty, crv, x, d } = key.privateJwk
  return `${JSON.stringify({ kid, kty, crv, x, d })}\n`
}

/**
 * The key of a single-host (embedded database) install: generated once into the data directory
 * (mode 0600), like secret.key. Written whole under a private name, then linked into place: a
 * process stopped half-way leaves no partial key, and link() fails if another process won the race.
 */
export async function loadOrCreateWebhookSigningKey(dataDir: string): Promise<WebhookSigningKey> {
  const file = path.join(dataDir, WEBHOOK_KEY_FILE)
  try {
    return parseWebhookSigningKey(await readFile(file, 'utf8'), file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(dataDir, { recursive: true })
  const key = generateWebhookSigningKey()
  const staged = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(staged, serialise(key), { mode: 0o600 })
  try {
    await link(staged, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return parseWebhookSigningKey(await readFile(file, 'utf8'), file)
    throw error
  } finally {
    await unlink(staged).catch(() => undefined)
  }
  return key
}

/** A fresh key as the one JSON line STOREFRONT_WEBHOOK_SIGNING_KEY takes (for PostgreSQL installs). */
export function newWebhookSigningKeyJson(): string {
  return serialise(generateWebhookSigningKey()).trim()
}
