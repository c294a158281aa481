import type { Address } from 'viem'
import { decodeAccountSecrets, decodeEncryptionKey } from './account-secrets.ts'
import { openWithNodeKey } from './node-key.ts'
import { AppError } from '../errors.ts'
import type { HospitalRow } from './hospital.ts'
import type { UnlockedKeys } from './account.ts'
import type { Services } from '../services.ts'

/**
 * Unlocks a hospital's own keys (its ledger identity and its emergency key), which the node
 * holds sealed under the node key because the hospital acts without a signed-in user: to
 * release break-glass keys and to record share-token reads.
 * @throws AppError UNKNOWN_HOSPITAL, KEYSTORE_LOCKED
 */
export async function unlockHospital(s: Pick<Services, 'db' | 'nodeKey'>, hospitalId: string, states: readonly string[] = ['active']): Promise<{ row: HospitalRow; keys: UnlockedKeys }> {
  const row = await sealedHospital(s, hospitalId, states)
  const keys = decodeAccountSecrets(openWithNodeKey(s.nodeKey, `hospital:${row.address as Address}`, row.sealed_secrets))
  return { row, keys }
}

/**
 * The hospital's emergency (encryption) private key alone, as `unlockHospital` opens it but
 * without making its ledger account: for indexing an upload, where nothing is signed.
 * @throws AppError UNKNOWN_HOSPITAL, KEYSTORE_LOCKED
 */
export async function unlockHospitalEncryptionKey(s: Pick<Services, 'db' | 'nodeKey'>, hospitalId: string): Promise<{ row: HospitalRow; encryptionPrivateKey: Uint8Array }> {
  const row = await sealedHospital(s, hospitalId, ['active'])
  return { row, encryptionPrivateKey: decodeEncryptionKey(openWithNodeKey(s.nodeKey, `hospital:${row.address as Address}`, row.sealed_secrets)) }
}

async function sealedHospital(s: Pick<Services, 'db'>, hospitalId: string, states: readonly string[]): Promise<HospitalRow> {
  const row = await s.db.get(`SELECT * FROM hospitals WHERE id = ? AND sealed_secrets <> ''`, hospitalId) as HospitalRow | undefined
  if (!row || !states.includes(row.state)) throw new AppError('UNKNOWN_HOSPITAL')
  return row
}
