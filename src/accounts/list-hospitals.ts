import type { Address } from 'viem'
import type { Db } from '../db/open-database.ts'
import type { Ledger } from '../ledger/connect-ledger.ts'
import { readProposalExpiry } from '../ledger/registry/read-proposal-expiry.ts'
import { isAppError } from '../errors.ts'
import { toHospital, type Hospital, type HospitalRow } from './hospital.ts'

/**
 * The consortium's hospitals as this node knows them (members, proposed, remote, applied), oldest
 * first. With a ledger, a proposed hospital whose admission proposal is older than the Registry's
 * `proposalTtl` (chain time) is listed as `expired`: it can no longer be voted on, and a new
 * proposal about it may be opened. While the chain cannot be read, it stays `proposed`.
 */
export async function listHospitals(s: { db: Db; ledger?: Pick<Ledger, 'client' | 'contracts'> }): Promise<Hospital[]> {
  const rows = await s.db.all(`SELECT * FROM hospitals WHERE state IN ('active', 'proposed', 'remote', 'applied') ORDER BY created_at`) as HospitalRow[]
  const hospitals = rows.map(toHospital)
  const { ledger } = s
  if (!ledger) return hospitals
  return await Promise.all(hospitals.map(async (h) => h.status === 'proposed' && await proposalExpired(ledger, h.address) ? { ...h, status: 'expired' } : h))
}

async function proposalExpired(ledger: Pick<Ledger, 'client' | 'contracts'>, hospital: Address): Promise<boolean> {
  try {
    const p = await readProposalExpiry(ledger, { hospital: hospital.toLowerCase() as Address })
    return p.kind === 1 && p.expired
  } catch (err) {
    if (isAppError(err, 'LEDGER_UNAVAILABLE')) return false
    throw err
  }
}
