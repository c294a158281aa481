import { randomBytes } from 'node:crypto'
import { getAddress, isAddress, isHex, verifyMessage, type Address, type Hex } from 'viem'
import { parseSiweMessage } from 'viem/siwe'
import { AppError, isAppError } from '../errors.ts'
import { isUniqueViolation } from '../db/db.ts'
import { requireKeys, type AccountRow, type Actor } from './account.ts'
import { assertNotLocked, clearSignInFailures, recordSignInFailure, serializeSignIn, signInKey, type Clock } from './lockout.ts'
import { hasTotpEnabled, useSecondFactor } from './mfa.ts'
import { openSession, signInStates, type LoginResult, type SessionServices } from './sessions.ts'
import type { Ledger } from '../ledger/connect-ledger.ts'
import { confirmPassword } from './confirm-password.ts'
import { recordAccountEvent } from './record-account-event.ts'

/** What Sign-In with Ethereum needs of a node: sessions, and its ledger's chain id. */
export type SiweServices = SessionServices & { readonly ledger: Pick<Ledger, 'chainId'> }

/** How long a server nonce may be used after it was issued. */
export const siweNonceLifetimeMs = 5 * 60_000

/** Longest accepted message; a real EIP-4361 message is a few hundred characters. */
const maxMessageLength = 4096

/** How far a message's `Issued At` may be ahead of this node's clock (clock drift). */
const allowedSkewMs = 5 * 60_000

/**
 * Issues a single-use nonce for an EIP-4361 message: 128 random bits (32 hex characters)
 * that live five minutes. (viem's `generateSiweNonce` draws on Math.random, so it is not
 * used for this.)
 */
export async function issueSiweNonce(s: Pick<SessionServices, 'db'>, { clock = Date.now }: { clock?: Clock } = {}): Promise<{ nonce: string; expiresAt: string }> {
  const now = clock()
  const nonce = randomBytes(16).toString('hex')
  const expiresAt = now + siweNonceLifetimeMs
  await s.db.run('DELETE FROM siwe_nonces WHERE expires_at < ?', now)
  await s.db.run('INSERT INTO siwe_nonces (nonce, expires_at, used_at) VALUES (?, ?, NULL)', nonce, expiresAt)
  return { nonce, expiresAt: new Date(expiresAt).toISOString() }
}

/**
 * Where a message must say it comes from: the node's configured public URL, or else the
 * address the node listens on. Never the request's Host header: a message signed for another
 * site must not be accepted because it was sent with that site's name.
 */
export interface SiweSite {
  /** RFC 3986 authority: `host[:port]`; empty when the node cannot tell (then every message is refused). */
  domain: string
  /** The full origin (`https://host[:port]`): the message's URI must be on it. */
  origin?: string
}

/**
 * The site a SIWE message must name: from the node's `publicUrl` when configured, otherwise
 * from `listenUrl`, the `http://host:port` the node listens on (its real port after
 * `--port 0`). A node listening on every interface (0.0.0.0, ::) has no one address a
 * browser uses: it needs `--public-url` for wallet sign-in.
 */
export function siweSite(s: { config: { publicUrl: string } }, listenUrl: string | undefined): SiweSite {
  const base = s.config.publicUrl || listenUrl
  if (!base) return { domain: '' }
  const url = new URL(base)
  if (!s.config.publicUrl && ['0.0.0.0', '[::]'].includes(url.hostname)) return { domain: '' }
  return { domain: url.host, origin: url.origin }
}

export interface SiweParams {
  /** The EIP-4361 message, exactly as signed. */
  message: unknown
  /** The EIP-191 (personal_sign) signature of the message. */
  signature: unknown
  site: SiweSite
  clock?: Clock
}

interface CheckedSiwe { address: Address; nonce: string }

/**
 * Checks everything about a signed EIP-4361 message but does not use up its nonce.
 * @throws AppError SIWE_MESSAGE_INVALID, SIWE_DOMAIN_MISMATCH, SIWE_CHAIN_MISMATCH,
 *   SIWE_NONCE_INVALID, SIWE_MESSAGE_EXPIRED, SIWE_SIGNATURE_INVALID
 */
async function checkSiwe(s: SiweServices, { message, signature, site, clock = Date.now }: SiweParams): Promise<CheckedSiwe> {
  if (typeof message !== 'string' || message.length > maxMessageLength) throw new AppError('SIWE_MESSAGE_INVALID')
  const m = parseSiweMessage(message)
  if (!m.domain || !m.address || !m.uri || m.version !== '1' || m.chainId === undefined || !m.nonce || !m.issuedAt) throw new AppError('SIWE_MESSAGE_INVALID')
  if (!isAddress(m.address, { strict: false })) throw new AppError('SIWE_MESSAGE_INVALID')
  for (const t of [m.issuedAt, m.expirationTime, m.notBefore]) {
    if (t !== undefined && Number.isNaN(t.getTime())) throw new AppError('SIWE_MESSAGE_INVALID')
  }

  if (!site.domain) throw new AppError('SIWE_DOMAIN_MISMATCH', { message: 'Wallet sign-in needs the node\'s public address: its operator sets --public-url (MEDLEDGER_PUBLIC_URL).' })
  if (m.domain.toLowerCase() !== site.domain.toLowerCase()) throw new AppError('SIWE_DOMAIN_MISMATCH')
  let uri: URL
  try {
    uri = new URL(m.uri)
  } catch {
    throw new AppError('SIWE_DOMAIN_MISMATCH')
  }
  if (!['http:', 'https:'].includes(uri.protocol) || uri.host.toLowerCase() !== site.domain.toLowerCase()) throw new AppError('SIWE_DOMAIN_MISMATCH')
  if (site.origin && (uri.origin !== site.origin || (m.scheme !== undefined && `${m.scheme}:` !== new URL(site.origin).protocol))) {
    throw new AppError('SIWE_DOMAIN_MISMATCH')
  }

  if (m.chainId !== s.ledger.chainId) throw new AppError('SIWE_CHAIN_MISMATCH')

  const now = clock()
  const nonce = await s.db.get('SELECT expires_at, used_at FROM siwe_nonces WHERE nonce = ?', m.nonce) as { expires_at: number; used_at: number | null } | undefined
  if (!nonce || nonce.used_at !== null || nonce.expires_at <= now) throw new AppError('SIWE_NONCE_INVALID')

  if (m.expirationTime && now >= m.expirationTime.getTime()) throw new AppError('SIWE_MESSAGE_EXPIRED')
  if (m.notBefore && now < m.notBefore.getTime()) throw new AppError('SIWE_MESSAGE_EXPIRED')
  if (m.issuedAt.getTime() > now + allowedSkewMs) throw new AppError('SIWE_MESSAGE_EXPIRED')

  const valid = typeof signature === 'string' && isHex(signature) && signature.length <= 2 + 2 * 1024 &&
    await verifyMessage({ address: m.address, message, signature: signature as Hex }).catch(() => false)
  if (!valid) throw new AppError('SIWE_SIGNATURE_INVALID')
  return { address: getAddress(m.address), nonce: m.nonce }
}

/** Uses up a nonce; only one of several parallel uses succeeds. */
async function consumeNonce(s: Pick<SessionServices, 'db'>, nonce: string, now: number): Promise<void> {
  const used = await s.db.run('UPDATE siwe_nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL AND expires_at > ?', now, nonce, now)
  if (used.changes !== 1) throw new AppError('SIWE_NONCE_INVALID')
}

/**
 * Signs in the account linked to the wallet that signed an EIP-4361 message for this node
 * (domain, URI, chain id, nonce, validity window and signature all checked; the nonce is used
 * up only by a sign-in that succeeds). The session cannot unlock the account's keys, since no
 * password was given: operations that need them answer KEYS_LOCKED. An account with an
 * authenticator also gives a TOTP or recovery code, under the same lock-out as a password.
 * @throws AppError SIWE_*, UNKNOWN_WALLET, MFA_REQUIRED, MFA_INVALID, MFA_REPLAYED, ACCOUNT_LOCKED
 */
export async function signInWithEthereum(s: SiweServices, p: SiweParams & { totp?: unknown; clientAddress?: string }): Promise<LoginResult> {
  const clock = p.clock ?? Date.now
  const { address, nonce } = await checkSiwe(s, p)
  const row = await s.db.get(`SELECT * FROM accounts WHERE wallet_address = ? AND state IN ${signInStates}`, address.toLowerCase()) as AccountRow | undefined
  if (!row) throw new AppError('UNKNOWN_WALLET')
  if (!(await hasTotpEnabled(s, row.id))) {
    await consumeNonce(s, nonce, clock())
    return await openSession(s, { row, clock })
  }
  // A signature cannot be guessed, but a code can: code attempts share the password's lock-out.
  const lockKey = signInKey(row.email, p.clientAddress)
  return serializeSignIn(s.signIn, lockKey, async () => {
    await assertNotLocked(s.db, lockKey, clock())
    try {
      await useSecondFactor(s, { accountId: row.id, code: p.totp, clock })
    } catch (err) {
      if (isAppError(err, 'MFA_INVALID', 'MFA_REPLAYED')) await recordSignInFailure(s.db, lockKey, clock())
      throw err
    }
    await consumeNonce(s, nonce, clock())
    await clearSignInFailures(s.db, lockKey)
    return await openSession(s, { row, clock })
  })
}

/**
 * Links a wallet to the signed-in account, once the wallet has signed an EIP-4361 message for
 * this node (same checks as signing in) and the account's current password is confirmed in
 * the same request. Needs a password session too: a wallet session cannot move the account to
 * another wallet. The link is written to the account events.
 * @throws AppError UNAUTHENTICATED, KEYS_LOCKED, PASSWORD_REQUIRED, WRONG_PASSWORD,
 *   ACCOUNT_LOCKED, SIWE_*, WALLET_TAKEN
 */
export async function linkWallet(s: SiweServices, p: SiweParams & { actor: Actor | undefined; password: unknown; clientAddress?: string }): Promise<{ walletAddress: Address }> {
  if (!p.actor) throw new AppError('UNAUTHENTICATED')
  requireKeys(p.actor)
  const accountId = p.actor.account.id
  const { address, nonce } = await checkSiwe(s, p)
  await confirmPassword(s, { actor: p.actor, password: p.password, clientAddress: p.clientAddress, clock: p.clock })
  const holder = await s.db.get('SELECT id FROM accounts WHERE wallet_address = ?', address.toLowerCase()) as { id: string } | undefined
  if (holder && holder.id !== accountId) throw new AppError('WALLET_TAKEN')
  await s.db.transaction(async (tx) => {
    await consumeNonce({ db: tx }, nonce, (p.clock ?? Date.now)())
    try {
      await tx.run('UPDATE accounts SET wallet_address = ? WHERE id = ?', address.toLowerCase(), accountId)
    } catch (cause) {
      if (isUniqueViolation(cause, 'wallet_address')) throw new AppError('WALLET_TAKEN')
      throw cause
    }
    await recordAccountEvent(tx, { accountId, kind: 'wallet-linked', actorId: accountId, now: (p.clock ?? Date.now)() })
  })
  return { walletAddress: address }
}
