import type { SignInState } from '../services.ts'

export type { SignInState } from '../services.ts'

/** A node's fresh, empty sign-in state. */
export function createSignInState(): SignInState {
  return { unlocked: new Map(), queues: new Map(), decoys: {} }
}
