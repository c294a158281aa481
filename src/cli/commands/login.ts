import { CliError, createClient, saveSession } from '../client.ts'
import { readSecret } from '../io.ts'
import type { Common } from '../session.ts'

/**
 * `medledger login --email E [--totp CODE]`: signs in with the password from stdin (or a prompt
 * with echo off) and keeps the session under ~/.medledger.
 * @throws CliError USAGE without --email; the node's code (e.g. MFA_REQUIRED) when it refuses.
 */
export async function login(c: Common, { email, totp }: { email?: string; totp?: string }): Promise<void> {
  if (!email) throw new CliError('USAGE', 'login needs --email E', 2)
  const password = await readSecret(`Password for ${email}: `)
  type Answer = { token: string; expiresAt: string; account: { id: string; role: string; email: string }; mfaEnrollmentRequired: boolean }
  const signIn = (code?: string) => createClient(c.api).json<Answer>('POST', '/auth/login', { email, password, ...(code ? { totp: code } : {}) })
  let r: Answer
  try {
    r = await signIn(totp)
  } catch (err) {
    // On a terminal, ask for the code instead of failing; piped input has been read already.
    if (!(err instanceof CliError && err.code === 'MFA_REQUIRED' && !totp && process.stdin.isTTY)) throw err
    r = await signIn(await readSecret('Authenticator code (or a recovery code): '))
  }
  saveSession(c.api, r.account.email, { token: r.token, expiresAt: r.expiresAt, role: r.account.role, accountId: r.account.id })
  c.out.result({ account: r.account, expiresAt: r.expiresAt, mfaEnrollmentRequired: r.mfaEnrollmentRequired }, () => `Signed in as ${r.account.email} (${r.account.role}) until ${r.expiresAt}.` +
    (r.mfaEnrollmentRequired ? '\nYour role needs two-factor sign-in: run `medledger mfa enroll`, then `medledger mfa verify CODE`; nothing else works until then.' : ''))
}
