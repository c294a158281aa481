import { randomUUID } from 'node:crypto'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { toHex, type Address, type Hex } from 'viem'
import { generateEncryptionKeyPair, keySchemeId, type KeyScheme } from '../crypto/key-wrap.ts'
import { encodeAccountSecrets } from './account-secrets.ts'
import { sealWithNodeKey } from './node-key.ts'
import { putRawBlock } from '../storage/raw-block.ts'
import { digestFromCid } from '../storage/read-verified.ts'
import type { HospitalRow } from './hospital.ts'
import type { Services } from '../services.ts'

/** What the Registry is told about a hospital: its address, key scheme and emergency-key digest. */
export interface HospitalOnChain { hospital: Address; keyScheme: number; emergencyKey: Hex }

/**
 * Creates a hospital's ledger identity and emergency key pair (both sealed under the node key,
 * because the hospital acts without a signed-in user), publishes the emergency public key in
 * IPFS and inserts the hospital row in `state`; the caller puts it on chain.
 */
export async function createHospitalIdentity(s: Pick<Services, 'db' | 'ipfs' | 'nodeKey'>, { name, keyScheme, state, signal }: { name: string; keyScheme: KeyScheme; state: string; signal?: AbortSignal }): Promise<{ row: HospitalRow; onChain: HospitalOnChain }> {
  const ledgerKey = generatePrivateKey()
  const address = privateKeyToAccount(ledgerKey).address.toLowerCase() as Address
  const emergency = await generateEncryptionKeyPair(keyScheme)
  const keyCid = await putRawBlock(s.ipfs, emergency.publicKey, { signal })
  const row: HospitalRow = {
    id: randomUUID(),
    name,
    address,
    key_scheme: keyScheme,
    emergency_public_key: Buffer.from(emergency.publicKey),
    sealed_secrets: sealWithNodeKey(s.nodeKey, `hospital:${address}`, encodeAccountSecrets(ledgerKey, emergency.privateKey)),
    state,
    tx_hash: null,
    created_at: Date.now(),
  }
  await s.db.run(`INSERT INTO hospitals (id, name, address, key_scheme, emergency_public_key, sealed_secrets, state, tx_hash, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, row.id, row.name, row.address, row.key_scheme, row.emergency_public_key, row.sealed_secrets, row.state, row.tx_hash, row.created_at)
  return { row, onChain: { hospital: address, keyScheme: keySchemeId(keyScheme), emergencyKey: toHex(digestFromCid(keyCid)) } }
}
