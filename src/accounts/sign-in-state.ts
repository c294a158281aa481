import type { Keystore } from '../crypto/keystore.ts'
import type { UnlockedKeys } from './account.ts'

/**
 * What one node keeps in memory between sign-in requests. Created once per node (in
 * `Services`), never at module level, so two nodes in one process share none of it.
 */
export interface SignInState {
  /**
   * Keys unlocked per session, by token hash: unlocking costs an AEAD open and key
   * derivations, so it is done once per session and dropped at sign-out or expiry.
   */
  readonly unlocked: Map<string, { keys: UnlockedKeys | undefined; expiresAt: number }>
  /** The last queued attempt per lock-out key (`serializeSignIn`). */
  readonly queues: Map<string, Promise<unknown>>
  /**
   * Keystores sealed under this node's KDF settings, opened for an unknown e-mail so that
   * timing does not tell which e-mails have accounts: one for sign-in, one for recovery.
   */
  readonly decoys: { login?: Promise<Keystore>; recovery?: Promise<Keystore> }
}

/** A node's fresh, empty sign-in state. */
export function createSignInState(): SignInState {
  return { unlocked: new Map(), queues: new Map(), decoys: {} }
}
