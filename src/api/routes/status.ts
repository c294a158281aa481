import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { journalBacklog } from '../../ledger/replay-journal.ts'
import { toLedgerError } from '../../ledger/send-transaction.ts'
import { countNodeItems } from '../../node/count-node-items.ts'
import { requireRole } from '../../accounts/account.ts'
import { actorOf } from '../actor-of.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

const statusSchema = {
  type: 'object',
  properties: {
    chainRpc: { type: 'string' },
    chainId: { type: 'integer' },
    blockNumber: { type: 'integer' },
    contracts: { type: 'object', properties: { registry: { type: 'string' }, recordLedger: { type: 'string' }, consent: { type: 'string' } } },
    records: { type: 'integer' },
    hospitals: { type: 'integer' },
    accounts: { type: 'integer' },
    journalBacklog: { type: 'integer' },
    quarantinedEvents: { type: 'integer', description: 'Ledger events the follower could not apply and set aside (retried in the background); the admin lists them at /status/quarantine.' },
    ipfsBytes: { type: 'integer', description: 'Bytes of IPFS blocks on this node\'s disk (recounted at most every 30 s).' },
    cache: {
      type: 'object',
      description: 'The in-memory cache of verified ciphertext blocks (`cacheMb`): bytes held, its bound, and block lookups it answered (hits) or passed to the store (misses).',
      properties: { bytes: { type: 'integer' }, maxBytes: { type: 'integer' }, hits: { type: 'integer' }, misses: { type: 'integer' } },
    },
    anchorCache: {
      type: 'object',
      description: 'Positive anchor checks remembered in memory (a lone anchor\'s for good, a batched record\'s for one chain block): entries held, their bound, and checks answered from memory (hits) or asked of the chain (misses).',
      properties: { entries: { type: 'integer' }, maxEntries: { type: 'integer' }, hits: { type: 'integer' }, misses: { type: 'integer' } },
    },
    recordFetch: {
      type: 'object',
      description: 'Records this node fetched from peers since it started (for a read or to keep a replica): from one peer in one round (direct) or over bitswap; peers refused for sending a block that did not hash to its CID on the direct path.',
      properties: { direct: { type: 'integer' }, bitswap: { type: 'integer' }, refused: { type: 'integer' } },
    },
    version: { type: 'string' },
    registry: { type: 'string' },
    hospitalAddress: { type: ['string', 'null'], description: 'The hospital this node serves.' },
    admitted: { type: 'boolean', description: 'Whether that hospital is a member of the consortium.' },
    ipfsPeerId: { type: ['string', 'null'] },
    ipfsAddrs: { type: 'array', items: { type: 'string' }, description: 'Multiaddrs other members dial.' },
    peers: { type: 'array', items: { type: 'string' }, description: 'Peer ids connected now.' },
    follow: {
      type: 'object',
      description: 'The ledger follower: last block applied, the head, and the lag between them.',
      properties: { lastBlock: { type: 'integer' }, headBlock: { type: 'integer' }, lagBlocks: { type: 'integer' }, error: { type: ['string', 'null'] } },
    },
    replication: {
      type: ['object', 'null'],
      description: 'Records this node keeps for other members: pending (not fetched yet), pinned, failing (retrying); replicas = R.',
      properties: { pending: { type: 'integer' }, pinned: { type: 'integer' }, failing: { type: 'integer' }, replicas: { type: 'integer' } },
    },
  },
} as const

const quarantineSchema = {
  type: 'object',
  properties: {
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          blockNumber: { type: 'integer' },
          txHash: { type: 'string' },
          logIndex: { type: 'integer' },
          contract: { type: 'string' },
          eventName: { type: 'string' },
          reason: { type: 'string' },
          attempts: { type: 'integer' },
          nextAttemptAt: { type: ['string', 'null'], description: 'When it is retried next; null once the follower gave up on it.' },
          quarantinedAt: { type: 'string' },
        },
      },
    },
  },
} as const

/** Node status: chain, contracts, counts. Holds nothing personal, so it needs no session. */
export async function statusRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  const storeSize = storeSizer(services.ipfs.dir)
  app.get('/status', {
    schema: {
      tags: ['node'],
      summary: 'The node\'s chain, contracts and counts.',
      security: [],
      response: {
        200: statusSchema,
        ...errors(503),
      },
    },
  }, async () => {
    const { ledger } = services
    const blockNumber = await ledger.client.getBlockNumber({ cacheTime: 0 }).catch((err: unknown) => { throw toLedgerError(err) })
    return {
      chainRpc: ledger.rpcUrl,
      chainId: ledger.chainId,
      blockNumber: Number(blockNumber),
      contracts: ledger.contracts,
      ...await countNodeItems(services),
      journalBacklog: await journalBacklog(ledger),
      ipfsBytes: await storeSize(),
      cache: services.blockCache.stats(),
      anchorCache: services.anchorCache.stats(),
      recordFetch: services.ipfs.prefetchStats(),
      version: '0.1.0',
      ...(services.consortium ? await services.consortium.status() : {}),
    }
  })

  app.get('/status/quarantine', {
    schema: {
      tags: ['node'],
      summary: 'The ledger events this node\'s follower could not apply and set aside, oldest first (admin). Where each was mined and why; nothing personal.',
      response: {
        200: quarantineSchema,
        ...errors(401, 403),
      },
    },
  }, async (req) => {
    requireRole(actorOf(req), 'admin')
    return { events: services.consortium ? await services.consortium.follower.quarantined(200) : [] }
  })

  app.get('/health', { schema: { tags: ['node'], summary: 'Liveness.', security: [], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }))
}

/**
 * Counts the bytes of the blocks under `dir`. Walking the block folders costs a stat per block,
 * so a count is reused for 30 s; the cache belongs to the app being built, never to the module.
 */
function storeSizer(dir: string): () => Promise<number> {
  let sized: { at: number; bytes: number } | undefined
  return async () => {
    if (sized && Date.now() - sized.at < 30_000) return sized.bytes
    const bytes = await countBytes(join(dir, 'blocks'))
    sized = { at: Date.now(), bytes }
    return bytes
  }
}

async function countBytes(dir: string): Promise<number> {
  let bytes = 0
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile()) bytes += (await stat(path).catch(() => ({ size: 0 }))).size
    }
  }
  await walk(dir)
  return bytes
}
