import type { Hex } from 'viem'
import type { Db } from '../db/open-database.ts'

/** Keeps the envelopes block a hospital released for an emergency, once (a later release changes nothing). Whether this call kept it. */
export async function recordEmergencyRelease(db: Db, { emergencyId, envelopes, txHash }: { emergencyId: Hex; envelopes: Hex; txHash: Hex }): Promise<boolean> {
  const kept = await db.run('UPDATE emergencies SET envelopes = ?, release_tx = ? WHERE emergency_id = ? AND envelopes IS NULL',
    envelopes.toLowerCase(), txHash, emergencyId.toLowerCase())
  return kept.changes > 0
}
