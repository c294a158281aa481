import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { AppError } from '../errors.ts'
import type { PrivateKey } from '@libp2p/interface'

/** The file, under the IPFS folder, that holds the node's libp2p private key. */
export const PEER_KEY_FILE = 'peer-key'

/**
 * Loads the node's libp2p identity from `<dir>/peer-key`, creating an Ed25519 key there on first
 * use (mode 0600, fsynced, renamed into place, folder fsynced): the PeerId other hospitals know
 * this node by survives restarts, and a crash never leaves a torn key.
 *
 * @throws AppError STORAGE_UNAVAILABLE when the file cannot be read or written, or holds no
 *   Ed25519 key.
 */
export async function loadOrCreatePeerKey(dir: string, { signal }: { signal?: AbortSignal } = {}): Promise<PrivateKey> {
  const file = path.join(path.resolve(dir), PEER_KEY_FILE)
  signal?.throwIfAborted()
  let bytes: Uint8Array | undefined
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AppError('STORAGE_UNAVAILABLE', { details: `reading the peer key ${file}`, cause: err })
    }
  }
  if (bytes !== undefined) {
    let key: PrivateKey
    try {
      key = privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new AppError('STORAGE_UNAVAILABLE', { details: `${file} does not hold a libp2p private key`, cause: err })
    }
    if (key.type !== 'Ed25519') throw new AppError('STORAGE_UNAVAILABLE', { details: `${file} holds a ${key.type} key, not Ed25519` })
    return key
  }

  const key = await generateKeyPair('Ed25519')
  try {
    await writeKeyDurably(file, privateKeyToProtobuf(key))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      // Another opener of the same folder won the race: use its key, not ours.
      return loadOrCreatePeerKey(dir, { signal })
    }
    throw new AppError('STORAGE_UNAVAILABLE', { details: `writing the peer key ${file}`, cause: err })
  }
  return key
}

async function writeKeyDurably(file: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(file)
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await fs.open(tmp, 'wx', 0o600)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } catch (err) {
    await handle.close().catch(() => {})
    await fs.rm(tmp, { force: true })
    throw err
  }
  await handle.close()
  try {
    // link(2) fails with EEXIST rather than replacing a key another opener just wrote.
    await fs.link(tmp, file)
  } finally {
    await fs.rm(tmp, { force: true })
  }
  const folder = await fs.open(dir, 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
