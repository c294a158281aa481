import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { openDatabase, type Db } from '../../src/db/open-database.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { generateRecoveryCode, sealKeystore } from '../../src/crypto/keystore.ts'
import { encodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import type { Role } from '../../src/accounts/account.ts'
import { createSignInState, type SignInState } from '../../src/accounts/sign-in-state.ts'

/** A node's sign-in parts without chain or IPFS: a real SQLite database, config and node key. */
export interface SignInNode {
  home: string
  db: Db
  config: Readonly<Config>
  nodeKey: Uint8Array
  ledger: { chainId: number }
  signIn: SignInState
  close(): Promise<void>
}

/** Opens a fresh node home with `env` on top of cheap Argon2id settings. */
export async function openSignInNode(env: Record<string, string> = {}): Promise<SignInNode> {
  const home = mkdtempSync(join(tmpdir(), 'ml-signin-'))
  const config = loadConfig({ flags: { home }, env: { MEDLEDGER_KDF: '{"m":1024,"t":1,"p":1}', ...env } })
  const db = await openDatabase({ url: join(home, 'medledger.db') })
  return {
    home, db, config, nodeKey: new Uint8Array(randomBytes(32)), ledger: { chainId: 31337 }, signIn: createSignInState(),
    async close() {
      await db.close()
      rmSync(home, { recursive: true, force: true })
    },
  }
}

/**
 * Inserts an active account with a real keystore under `password` (registering it on chain is
 * not what these tests are about).
 */
export async function insertSignInAccount(node: SignInNode, { role, email, password, wallet }: { role: Role; email: string; password: string; wallet?: string }): Promise<{ id: string; email: string }> {
  const ledgerKey = generatePrivateKey()
  const { keystore } = await sealKeystore({ payload: encodeAccountSecrets(ledgerKey, randomBytes(32)), password, recoveryCode: generateRecoveryCode(), kdf: node.config.kdf })
  const id = randomUUID()
  await node.db.run(`INSERT INTO accounts (id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, created_at, wallet_address)
    VALUES (?, ?, ?, ?, NULL, ?, 'x25519-hpke', ?, ?, 'active', ?, ?)`, id, email, `${role} ${email}`, role, privateKeyToAccount(ledgerKey).address.toLowerCase(), Buffer.alloc(32), JSON.stringify(keystore), Date.now(), wallet?.toLowerCase() ?? null)
  return { id, email }
}

/** Counts of the rows sign-in may write: a refusal must leave them as they were. */
export async function signInRows(db: Db): Promise<{ sessions: number; usedNonces: number; usedRecoveryCodes: number }> {
  const n = async (sql: string) => (await db.get(sql) as { n: number }).n
  return {
    sessions: await n('SELECT count(*) AS n FROM sessions'),
    usedNonces: await n('SELECT count(*) AS n FROM siwe_nonces WHERE used_at IS NOT NULL'),
    usedRecoveryCodes: await n('SELECT count(*) AS n FROM recovery_codes WHERE used_at IS NOT NULL'),
  }
}
