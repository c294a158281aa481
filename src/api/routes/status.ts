import type { FastifyInstance } from 'fastify'
import { journalBacklog } from '../../ledger/replay-journal.ts'
import { toLedgerError } from '../../ledger/send-transaction.ts'
import { errors } from './schemas.ts'
import type { Services } from '../../services.ts'

/** Node status: chain, contracts, counts. Holds nothing personal, so it needs no session. */
export async function statusRoutes(app: FastifyInstance, { services }: { services: Services }): Promise<void> {
  app.get('/status', {
    schema: {
      tags: ['node'],
      summary: 'The node\'s chain, contracts and counts.',
      security: [],
      response: {
        200: {
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
            version: { type: 'string' },
          },
        },
        ...errors(503),
      },
    },
  }, async () => {
    const { ledger, db } = services
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n
    const blockNumber = await ledger.client.getBlockNumber({ cacheTime: 0 }).catch((err: unknown) => { throw toLedgerError(err) })
    return {
      chainRpc: ledger.rpcUrl,
      chainId: ledger.chainId,
      blockNumber: Number(blockNumber),
      contracts: ledger.contracts,
      records: count(`SELECT COUNT(*) AS n FROM records WHERE state = 'anchored'`),
      hospitals: count(`SELECT COUNT(*) AS n FROM hospitals WHERE state = 'active'`),
      accounts: count(`SELECT COUNT(*) AS n FROM accounts WHERE state = 'active'`),
      journalBacklog: journalBacklog(ledger),
      version: '0.1.0',
    }
  })

  app.get('/health', { schema: { tags: ['node'], summary: 'Liveness.', security: [], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }))
}
