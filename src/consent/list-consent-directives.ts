import type { Hex } from 'viem'
import { isAppError } from '../errors.ts'
import { chainTime } from '../ledger/chain-time.ts'
import { toLedgerError } from '../ledger/send-transaction.ts'
import type { Actor } from '../accounts/account.ts'
import type { AccessRequestView } from './access-request.ts'
import { listAccessRequests } from './list-access-requests.ts'
import { listShares, type ShareView } from './shares.ts'
import { listEmergencies, type EmergencyView } from './emergency.ts'
import { listResearchConsents, type ResearchConsentView } from './research-consent.ts'
import { listTeamGrants, type TeamGrantView } from './list-team-grants.ts'
import type { Services } from '../services.ts'

/** Every grant, share and break-glass access the actor may see, as the native lists show them. */
export interface ConsentDirectives {
  grants: AccessRequestView[]
  shares: ShareView[]
  emergencies: EmergencyView[]
  /** The patient's research consents (purpose HRESCH); empty for every other role. */
  research: ResearchConsentView[]
  /** The patient's grants to care teams; empty for every other role. */
  teams: TeamGrantView[]
  /** Block time (seconds) of each transaction named by the views (request, decision, share, declaration). */
  txTimes: ReadonlyMap<string, number>
  /** The patient of each share (the share view names only its grantee), by share id. */
  sharePatients: ReadonlyMap<string, { id: string; name: string }>
  /** The role of each share grantee (a share may name any account), by account id. */
  roles: ReadonlyMap<string, string>
  /** The chain's clock (seconds) when they were read. */
  now: number
}

/**
 * The access requests (pending, decided, granted), shares and emergencies the actor sees in
 * `GET /access-requests`, `GET /shares` and `GET /emergencies` — each list only where the
 * actor's role may read it, otherwise empty — with the block time of every transaction they name.
 * @throws AppError UNAUTHENTICATED, LEDGER_UNAVAILABLE
 */
export async function listConsentDirectives(s: Services, { actor }: { actor: Actor | undefined }): Promise<ConsentDirectives> {
  const [grants, shares, emergencies, research, teams] = await Promise.all([
    allowed(() => listAccessRequests(s, { actor })),
    allowed(() => listShares(s, { actor })),
    allowed(() => listEmergencies(s, { actor })),
    allowed(() => listResearchConsents(s, { actor })),
    allowed(() => listTeamGrants(s, { actor })),
  ])
  const txs = new Set<Hex>()
  for (const g of grants) for (const t of [g.requestTx, g.decisionTx]) if (t) txs.add(t)
  for (const sh of shares) if (sh.txHash) txs.add(sh.txHash)
  for (const e of emergencies) for (const t of [e.declareTx, e.releaseTx]) if (t) txs.add(t)
  for (const r of research) if (r.txHash) txs.add(r.txHash)
  for (const t of teams) txs.add(t.txHash)
  const roles = new Map<string, string>()
  for (const g of shares.flatMap((sh) => sh.grantee ? [sh.grantee.id] : [])) {
    if (!roles.has(g)) roles.set(g, (await s.db.get<{ role: string }>('SELECT role FROM accounts WHERE id = ?', g))?.role ?? 'doctor')
  }
  const sharePatients = new Map<string, { id: string; name: string }>()
  for (const sh of shares) {
    const p = await s.db.get<{ id: string; name: string }>('SELECT a.id, a.name FROM shares s JOIN accounts a ON a.id = s.patient_id WHERE s.share_id = ?', sh.shareId)
    if (p) sharePatients.set(sh.shareId, { id: p.id, name: p.name })
  }
  return { grants, shares, emergencies, research, teams, txTimes: await blockTimesOf(s, [...txs]), roles, sharePatients, now: await chainTime(s.ledger) }
}

/** A list the actor's role may not read is, for this view, empty: what the role may not see is simply absent. */
async function allowed<T>(list: () => Promise<T[]>): Promise<T[]> {
  try {
    return await list()
  } catch (err) {
    if (isAppError(err, 'FORBIDDEN')) return []
    throw err
  }
}

/**
 * The block time (seconds) of each mined transaction; one not (or no longer) on the chain is left out.
 * @throws AppError LEDGER_UNAVAILABLE
 */
async function blockTimesOf(s: Services, txs: Hex[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const blocks = new Map<bigint, number>()
  try {
    for (const hash of txs) {
      const receipt = await s.ledger.client.getTransactionReceipt({ hash }).catch(() => undefined)
      if (!receipt) continue
      if (!blocks.has(receipt.blockNumber)) blocks.set(receipt.blockNumber, Number((await s.ledger.client.getBlock({ blockNumber: receipt.blockNumber })).timestamp))
      out.set(hash.toLowerCase(), blocks.get(receipt.blockNumber)!)
    }
  } catch (err) {
    throw toLedgerError(err)
  }
  return out
}
