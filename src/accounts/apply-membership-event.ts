import type { Address } from 'viem'
import { ensureHospital } from './directory.ts'
import type { Services } from '../services.ts'

/** A Registry membership change: a hospital added, removed, or publishing its node info (with its name). */
export type MembershipEvent =
  | { kind: 'added'; hospital: Address }
  | { kind: 'removed'; hospital: Address }
  | { kind: 'node-info'; hospital: Address; name?: string }

/**
 * Mirrors a membership change in the hospitals table: a removed remote hospital is marked
 * removed; an added one (or one publishing its node info) is known here, under its published
 * name when it has one; one that was proposed becomes a member here too (`active` when created
 * on this node, `remote` otherwise). This node's own hospitals are otherwise left as they are. Never throws on a
 * hospital the Registry cannot describe: the peer set is refreshed whatever happens here.
 */
export async function applyMembershipEvent(s: Pick<Services, 'db' | 'ledger'>, e: MembershipEvent): Promise<void> {
  const address = e.hospital.toLowerCase() as Address
  if (e.kind === 'removed') {
    await s.db.run(`UPDATE hospitals SET state = 'removed' WHERE address = ? AND state = 'remote'`, address)
    return
  }
  // A hospital up for a vote is a member now, whichever member's vote decided it: one created
  // here is active, another node's is remote (as voteOnHospital sets them).
  if (e.kind === 'added') await s.db.run(`UPDATE hospitals SET state = CASE WHEN sealed_secrets = '' THEN 'remote' ELSE 'active' END WHERE address = ? AND state = 'proposed'`, address)
  const own = await s.db.get('SELECT 1 AS x FROM hospitals WHERE address = ? AND sealed_secrets <> \'\'', address)
  const name = e.kind === 'node-info' && e.name !== '' ? e.name : undefined
  if (!own) await ensureHospital(s, address, name).catch(() => undefined)
}
