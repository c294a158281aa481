import * as dagPb from '@ipld/dag-pb'
import type { Blocks } from 'helia'
import type { CID } from 'multiformats/cid'

export interface PrefetchDagOptions {
  signal?: AbortSignal
  /** Blocks asked for at once (default 32). */
  concurrency?: number
}

/**
 * Brings a DAG this node lacks into its store in as few rounds of fetches as its shape allows:
 * the root, then every child of a node as soon as that node arrived, all at once (up to
 * `concurrency`), instead of the reader's one level after the other. Nothing is asked when the
 * root is held already. Fetched blocks are hash-checked by the store (Helia keeps a block only
 * once it hashed to its CID) and read again, verified, by the reader; this only warms the store,
 * so its failures are the reader's to meet and are not reported here.
 */
export async function prefetchDag(blockstore: Pick<Blocks, 'get' | 'has'>, root: CID, { signal, concurrency = 32 }: PrefetchDagOptions = {}): Promise<void> {
  if (await blockstore.has(root, { signal })) return
  let running = 0
  const waiting: (() => void)[] = []
  const slot = async () => {
    while (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
  }
  const release = () => { running--; waiting.shift()?.() }
  const visit = async (cid: CID): Promise<void> => {
    await slot()
    const chunks: Uint8Array[] = []
    try {
      for await (const chunk of blockstore.get(cid, { signal })) chunks.push(chunk)
    } finally {
      release()
    }
    if (cid.code !== dagPb.code) return
    const links = dagPb.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).Links
    await Promise.all(links.map((l) => visit(l.Hash)))
  }
  await visit(root).catch(() => undefined)
}
