import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { dirname } from 'node:path'
import { createAead } from '../crypto/aead.ts'
import { decodeBase64url, encodeBase64url, utf8 } from '../crypto/bytes.ts'
import { AppError } from '../errors.ts'

/**
 * Loads the node's 32-byte secret from `path`, creating it (mode 0600) on first start. It
 * seals the keys the node uses on its own behalf (a hospital's ledger and emergency keys);
 * a production node keeps this file on an encrypted volume or replaces it with an HSM.
 */
export function loadNodeKey(path: string): Uint8Array {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    writeFileSync(path, encodeBase64url(randomBytes(32)) + '\n', { mode: 0o600, flag: 'wx' })
  }
  chmodSync(path, 0o600)
  const key = decodeBase64url(readFileSync(path, 'utf8').trim(), 32)
  if (!key) throw new AppError('KEYSTORE_LOCKED', { details: `node key file ${path} is malformed` })
  return key
}

/** Seals `payload` under the node key (AES-256-GCM, random nonce, `label` as AAD). */
export function sealWithNodeKey(nodeKey: Uint8Array, label: string, payload: Uint8Array): string {
  const nonce = randomBytes(12)
  const ct = createAead('aes-256-gcm', nodeKey).seal(nonce, utf8(label), payload)
  return `${encodeBase64url(nonce)}.${encodeBase64url(ct)}`
}

/**
 * Opens what `sealWithNodeKey` sealed.
 * @throws AppError KEYSTORE_LOCKED when it does not authenticate.
 */
export function openWithNodeKey(nodeKey: Uint8Array, label: string, sealed: string): Uint8Array {
  const [n, c] = sealed.split('.')
  const nonce = decodeBase64url(n, 12)
  const ct = decodeBase64url(c)
  const pt = nonce && ct ? createAead('aes-256-gcm', nodeKey).open(nonce, utf8(label), ct) : undefined
  if (!pt) throw new AppError('KEYSTORE_LOCKED', { details: `sealed secret ${label} does not open with the node key` })
  return pt
}
