import { readRecord, type ReadRecordResult } from '../records/read-record.ts'
import type { Actor } from '../accounts/account.ts'
import { resolveAccess } from './resolve-access.ts'
import type { Services } from '../services.ts'

/**
 * Opens a record for its reader (a signed-in user, or the holder of a share token): decides
 * access as the ledger says (`resolveAccess`, which also checks the ledger anchor), then hands
 * that decision to records to read — every stored block re-hashed, every chunk authenticated
 * and the read written to the ledger before the first byte of plaintext is handed out.
 * @throws AppError RECORD_NOT_FOUND (absent or not the reader's), SHARE_TOKEN_INVALID,
 *   RECORD_INTEGRITY (any mismatch or failed authentication), RECORD_UNAVAILABLE (blocks
 *   missing), LEDGER_UNAVAILABLE, UNAUTHENTICATED
 */
export async function readRecordFor(s: Services, { actor, token, recordId, signal }: { actor?: Actor; token?: string; recordId: string; signal?: AbortSignal }): Promise<ReadRecordResult> {
  const access = await resolveAccess(s, { actor, token, recordId, signal, reading: true })
  return readRecord(s, { access, signal })
}
