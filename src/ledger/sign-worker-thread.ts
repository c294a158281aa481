// The signing thread (started by sign-worker.ts; not imported by anything else): signs each
// job's hash with its key and answers the signature, or the error's name only.
import { parentPort } from 'node:worker_threads'
import { sign } from 'viem/accounts'
import type { SignJob, SignReply } from './sign-worker.ts'

const port = parentPort!
port.on('message', ({ id, hash, key }: SignJob) => {
  sign({ hash, privateKey: key, to: 'hex' }).then(
    (signature) => port.postMessage({ id, signature } satisfies SignReply),
    (err: unknown) => port.postMessage({ id, error: (err as Error)?.name ?? 'Error' } satisfies SignReply),
  )
})
