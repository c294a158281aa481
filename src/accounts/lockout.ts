import { createHash } from 'node:crypto'
import { inTurn } from '../db/one-at-a-time.ts'
import type { Db } from '../db/open-database.ts'
import { AppError } from '../errors.ts'
import type { SignInState } from './sign-in-state.ts'

/** Milliseconds since the epoch; injectable so tests move time instead of sleeping. */
export type Clock = () => number

/**
 * When sign-in failures lock an account: the `threshold`-th failure in a row locks it for
 * `baseMs`, each further failure doubles that, up to `maxMs`. A success forgets the failures,
 * and so does a quiet `forgetAfterMs` with none.
 */
export const lockoutPolicy = Object.freeze({ threshold: 5, baseMs: 30_000, maxMs: 3_600_000, forgetAfterMs: 24 * 3_600_000 })

/** ACCOUNT_LOCKED, with how long until the next attempt may be made. */
export class AccountLockedError extends AppError {
  readonly retryAfterSeconds: number

  constructor(retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
    super('ACCOUNT_LOCKED', { message: `Too many failed sign-in attempts; try again in ${describeWait(seconds)}.` })
    this.retryAfterSeconds = seconds
  }
}

function describeWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`
  const minutes = Math.ceil(seconds / 60)
  return minutes >= 60 ? 'about an hour' : `about ${minutes} minute${minutes === 1 ? '' : 's'}`
}

/**
 * The lock-out key of a sign-in attempt: a hash of the trimmed, lower-cased e-mail together
 * with the client's address (`clientBucket`), so an unknown or malformed e-mail is counted
 * exactly like a known one, no typed-in address is kept in clear, and a stranger's failures
 * from one address never lock the owner signing in from another.
 *
 * There is deliberately no account-wide ceiling on top: any lock that every address shares is
 * a lock a stranger can hold on the owner. Guessing from many addresses is bounded instead by
 * each address's own growing back-off, the Argon2id cost of every guess, the per-address rate
 * limits of the unauthenticated routes and, for the roles that need it, a second factor.
 */
export function signInKey(email: unknown, clientAddress = ''): string {
  const normalized = typeof email === 'string' ? email.trim().toLowerCase() : ''
  return createHash('sha256').update(`medledger/sign-in/v2\0${normalized}\0${clientBucket(clientAddress)}`, 'utf8').digest('hex')
}

/**
 * The part of a client address that one client controls: an IPv4 address as it is (an
 * IPv4-mapped IPv6 address as its IPv4 form), an IPv6 address by its /64 prefix, since one
 * host is usually given a whole /64 and could otherwise take a fresh address per attempt.
 */
export function clientBucket(address: string): string {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)
  if (mapped) return mapped[1]
  if (!a.includes(':')) return a
  const [head, tail = ''] = a.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = a.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/** How long the lock lasts after `failures` failures in a row (0 below the threshold). */
export function lockDurationMs(failures: number): number {
  const { threshold, baseMs, maxMs } = lockoutPolicy
  if (failures < threshold) return 0
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - threshold, 20))
}

interface FailureRow { failures: number; locked_until: number; updated_at: number }

/**
 * Refuses while `key` is locked.
 * @throws AccountLockedError (ACCOUNT_LOCKED)
 */
export async function assertNotLocked(db: Db, key: string, now: number): Promise<void> {
  const row = await db.get('SELECT locked_until FROM sign_in_failures WHERE key = ?', key) as Pick<FailureRow, 'locked_until'> | undefined
  if (row && row.locked_until > now) throw new AccountLockedError(row.locked_until - now)
}

/** Counts one more failed attempt for `key` and locks it when the policy says so. */
export async function recordSignInFailure(db: Db, key: string, now: number): Promise<{ failures: number; lockedUntil: number }> {
  return db.transaction(async (tx) => {
    const row = await tx.get('SELECT * FROM sign_in_failures WHERE key = ?', key) as FailureRow | undefined
    const failures = row && now - row.updated_at < lockoutPolicy.forgetAfterMs ? row.failures + 1 : 1
    const duration = lockDurationMs(failures)
    const lockedUntil = duration > 0 ? now + duration : 0
    await tx.run(`INSERT INTO sign_in_failures (key, failures, locked_until, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until, updated_at = excluded.updated_at`, key, failures, lockedUntil, now)
    return { failures, lockedUntil }
  })
}

/** Forgets the failures of `key` (after a successful sign-in). */
export async function clearSignInFailures(db: Db, key: string): Promise<void> {
  await db.run('DELETE FROM sign_in_failures WHERE key = ?', key)
}

/**
 * Runs `fn` after every earlier attempt on the same key has finished, so parallel guesses
 * cannot all pass the lock check before the first failure is counted. The queue is the node's
 * own (`Services.signIn`).
 */
export async function serializeSignIn<T>({ queues }: Pick<SignInState, 'queues'>, key: string, fn: () => Promise<T>): Promise<T> {
  return inTurn(queues, key, fn)
}
