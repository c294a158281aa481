import type { Worker } from 'node:worker_threads'
import { hashMessage, hashTypedData, keccak256, parseSignature, serializeTransaction, type Hex, type LocalAccount, type SerializeTransactionFn, type TransactionSerializable } from 'viem'
import { privateKeyToAccount, sign } from 'viem/accounts'
import { startWorkerThread } from '../worker-thread.ts'

/** A job for the thread (sign-worker-thread.ts): sign `hash` with `key`. */
export interface SignJob { id: number; hash: Hex; key: Hex }
/** The thread's answer: the signature, or the name of the error (never its message). */
export interface SignReply { id: number; signature?: Hex; error?: string }

let worker: Worker | undefined
let online = false
let nextId = 0
const pending = new Map<number, (reply: SignReply) => void>()

/**
 * A secp256k1 signature (viem's `sign`, RFC 6979 and low s: the same bytes as the account's own
 * `sign`) of a 32-byte hash, made on a thread of its own so that the ~1 ms of curve arithmetic
 * runs beside the main thread's work (a read's signature while its blocks are decrypted). The
 * key is posted to the thread with the job and dropped there once used; it is never logged, and a
 * failure is answered by its error's name. The thread starts on the first call and holds the
 * process open only while a signature is pending; until it is up, or if it died, the signature is
 * made on the calling thread.
 * @throws Error when `key` or `hash` is malformed.
 */
export async function signOffThread(hash: Hex, key: Hex): Promise<Hex> {
  const w = thread()
  if (!online) return sign({ hash, privateKey: key, to: 'hex' })
  const id = nextId++
  const reply = await new Promise<SignReply>((resolve) => {
    pending.set(id, resolve)
    if (pending.size === 1) w.ref()
    w.postMessage({ id, hash, key } satisfies SignJob)
  })
  if (reply.signature !== undefined) return reply.signature
  if (reply.error === 'gone') return sign({ hash, privateKey: key, to: 'hex' })
  throw new Error(`signing failed on the signing thread (${reply.error ?? 'Error'})`)
}

/**
 * The account of `key` (viem's `privateKeyToAccount`), whose signatures — of hashes, transactions,
 * typed data and messages — are made on the signing thread (`signOffThread`): the same bytes as
 * the account's own, the hashing and serialising still on the calling thread.
 */
export function offThreadAccount(key: Hex): LocalAccount {
  const account = privateKeyToAccount(key)
  const signHash = (hash: Hex) => signOffThread(hash, key)
  const signTransaction = async (transaction: TransactionSerializable, { serializer = serializeTransaction }: { serializer?: SerializeTransactionFn<TransactionSerializable> } = {}) => {
    // As viem's signTransaction: a blob transaction is signed without its sidecars.
    const signable = transaction.type === 'eip4844' ? { ...transaction, sidecars: false as const } : transaction
    const signature = await signHash(keccak256(await serializer(signable)))
    return await serializer(transaction, parseSignature(signature))
  }
  return {
    ...account,
    sign: async ({ hash }) => signHash(hash),
    signMessage: async ({ message }) => signHash(hashMessage(message)),
    signTypedData: async (typedData) => signHash(hashTypedData(typedData as Parameters<typeof hashTypedData>[0])),
    signTransaction: signTransaction as LocalAccount['signTransaction'],
  }
}

/** Whether the signing thread is up and taking jobs (tests). */
export function signThreadOnline(): boolean {
  return online
}

function thread(): Worker {
  if (worker) return worker
  const w = startWorkerThread(import.meta.url, 'sign-worker-thread')
  worker = w
  w.once('online', () => { if (worker === w) online = true })
  w.on('message', (reply: SignReply) => {
    const settle = pending.get(reply.id)
    if (settle === undefined) return
    pending.delete(reply.id)
    if (pending.size === 0) w.unref()
    settle(reply)
  })
  const gone = () => {
    if (worker !== w) return
    worker = undefined
    online = false
    // Signed again on the calling thread: nothing was signed for them there.
    for (const settle of pending.values()) settle({ id: -1, error: 'gone' })
    pending.clear()
  }
  w.on('error', gone)
  w.on('exit', gone)
  // After the listeners: adding a 'message' listener refs the worker's port again.
  w.unref()
  return w
}
