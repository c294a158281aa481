import { hexToBytes, type Hex } from 'viem'
import { getRawBlockVerified } from '../storage/raw-block.ts'
import { cidFromDigest } from '../storage/read-verified.ts'
import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'

const recordIdPattern = /^0x[0-9a-f]{64}$/

/**
 * The record ids a grant's envelopes block covers. The block is named by an event anyone
 * could send, so it may not exist: the wait is bounded (`fetchMs`), and a block that does not
 * parse as grant envelopes is refused.
 * @throws AppError RECORD_UNAVAILABLE (not served in time), RECORD_INTEGRITY (not grant envelopes)
 */
export async function readGrantRecordIds(s: Pick<Services, 'ipfs'>, { envelopes, grantId, fetchMs }: { envelopes: Hex; grantId: Hex; fetchMs: number }): Promise<Hex[]> {
  const bytes = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(envelopes), 'raw'), { signal: AbortSignal.timeout(fetchMs) })
    .catch((cause: unknown) => {
      if (cause instanceof AppError) throw cause
      throw new AppError('RECORD_UNAVAILABLE', { cause, details: `grant envelopes ${envelopes} not served within ${fetchMs} ms` })
    })
  let obj: { type?: unknown; grantId?: unknown; keys?: unknown }
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof obj
  } catch (cause) {
    throw new AppError('RECORD_INTEGRITY', { cause, details: 'grant envelopes block is not JSON' })
  }
  if (obj?.type !== 'medledger/grant-envelopes' || typeof obj.grantId !== 'string' || obj.grantId.toLowerCase() !== grantId.toLowerCase() || !Array.isArray(obj.keys)) {
    throw new AppError('RECORD_INTEGRITY', { details: 'grant envelopes block does not belong to this grant' })
  }
  return obj.keys.map((k: { recordId?: unknown }) => {
    const id = typeof k?.recordId === 'string' ? k.recordId.toLowerCase() : ''
    if (!recordIdPattern.test(id)) throw new AppError('RECORD_INTEGRITY', { details: 'grant envelopes block lists a malformed record id' })
    return id as Hex
  })
}
