import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * Encrypts secrets at rest with AES-256-GCM. The envelope is `v1.<iv>.<tag>.<ciphertext>` in
 * base64url, so a future key rotation can add `v2` without touching stored rows.
 */
export class SecretBox {
  readonly #key: Buffer

  constructor(secret: string | Buffer) {
    // Any operator-chosen string becomes a 256-bit key; a random 32-byte key passes through unchanged in strength.
    this.#key = createHash('sha256').update(secret).digest()
  }

  /**
   * A 32-byte key for one purpose (the console's session cookies), derived from the secret key with
   * HKDF-SHA256: the same on every process that shares STOREFRONT_SECRET_KEY, and never the key itself.
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), `storefront:${purpose}`, 32))
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return ['v1', iv, cipher.getAuthTag(), ciphertext].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.')
  }

  open(envelope: string): string {
    const [version, iv, tag, ciphertext] = envelope.split('.')
    if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('Unrecognised secret envelope')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value))
  }

  openJson<T>(envelope: string): T {
    return JSON.parse(this.open(envelope)) as T
  }
}

export const SECRET_KEY_FILE = 'secret.key'

/**
 * The key comes from STOREFRONT_SECRET_KEY, or is generated once into the data directory
 * (mode 0600) for the single-host embedded setup.
 */
export async function loadOrCreateSecretKey(dataDir: string): Promise<string> {
  const file = path.join(dataDir, SECRET_KEY_FILE)
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(dataDir, { recursive: true })
  const key = randomBytes(32).toString('base64url')
  // Written whole under a private name, then linked into place: a process stopped half-way (a
  // signal during startup) leaves no empty key file behind, and link() fails if another won the race.
  const staged = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(staged, `${key}\n`, { mode: 0o600 })
  try {
    await link(staged, file)
  } catch (error) {
    // Another process won the race: use its key.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim()
    throw error
  } finally {
    await unlink(staged).catch(() => undefined)
  }
  return key
}
