import type { Hex } from 'viem'
import { requireKeys, type Actor } from '../accounts/account.ts'
import { parseRecordId } from '../crypto/tokens.ts'
import { AppError } from '../errors.ts'
import { sendRekeyLeave } from '../ledger/rekey/send-rekey-leave.ts'
import { supersededAnswer } from './apply-record-superseded.ts'
import type { Services } from '../services.ts'

/**
 * The patient lets the author of one of their records re-key it, once: `RecordLedger.allowRekey`
 * from the patient's own key, so the leave is on chain and no node can give it for the patient.
 * @throws AppError UNAUTHENTICATED, RECORD_NOT_FOUND, RECORD_SUPERSEDED, REKEY_NOT_ALLOWED (not the patient), KEYS_LOCKED, LEDGER_*
 */
export async function allowRekey(s: Services, { actor, recordId, signal }: { actor: Actor | undefined; recordId: string; signal?: AbortSignal }): Promise<{ recordId: Hex; txHash: Hex }> {
  if (!actor) throw new AppError('UNAUTHENTICATED')
  const id = parseRecordId(recordId)
  const row = await s.db.get(`SELECT patient_id, author_id FROM records WHERE record_id = ? AND state = 'anchored'`, id) as { patient_id: string; author_id: string } | undefined
  if (!row) throw await supersededAnswer(s, id) ?? new AppError('RECORD_NOT_FOUND')
  if (actor.account.id !== row.patient_id) {
    throw new AppError(actor.account.id === row.author_id ? 'REKEY_NOT_ALLOWED' : 'RECORD_NOT_FOUND')
  }
  const receipt = await sendRekeyLeave(s.ledger, { patient: requireKeys(actor).ledger, recordId: id, signal })
  return { recordId: id, txHash: receipt.transactionHash }
}
