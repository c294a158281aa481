import type { Hex } from 'viem'
import type { Db } from '../db/open-database.ts'

/** A share's row as the shares table holds it (its token only as a hash, hex without 0x). */
export interface NewShare {
  shareId: Hex
  patientId: string
  granteeId: string | null
  tokenHash: string | null
  recordIds: Hex[]
  expiresAt: number
  once: boolean
  envelopes: Hex
  txHash: Hex
}

/** Writes a share's row, once: a share already held under its id is kept as it is. */
export async function insertShare(db: Db, r: NewShare): Promise<void> {
  await db.run(`INSERT INTO shares (share_id, patient_id, grantee_id, token_hash, record_ids, expires_at, once, envelopes, tx_hash, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (share_id) DO NOTHING`,
  r.shareId, r.patientId, r.granteeId, r.tokenHash, JSON.stringify(r.recordIds), r.expiresAt, r.once ? 1 : 0, r.envelopes, r.txHash, Date.now())
}
