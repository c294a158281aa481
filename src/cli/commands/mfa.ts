import QRCode from 'qrcode'
import { CliError, createClient, pickSession, type ApiClient } from '../client.ts'
import { readSecret } from '../io.ts'
import type { Common } from './client-commands.ts'

function session(c: Common): { client: ApiClient; email: string } {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', c.as ? `No session for ${c.as} on ${c.api}: run \`medledger login --email ${c.as}\`.` : `Not signed in on ${c.api}: run \`medledger login --email E\`.`)
  return { client: createClient(c.api, s.token), email: s.email }
}

/**
 * `medledger mfa enroll`: starts TOTP enrolment (the current password is read from stdin, or
 * asked for with echo off) and shows the secret as a QR code and an otpauth:// URI.
 */
export async function mfaEnroll(c: Common): Promise<void> {
  const { client, email } = session(c)
  const password = await readSecret(`Current password for ${email}: `)
  const r = await client.json<{ otpauthUri: string; secret: string; qrSvg: string }>('POST', '/mfa/totp', { password })
  const qr = c.out.json ? '' : await QRCode.toString(r.otpauthUri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' })
  c.out.result(r, () => [
    'Scan this with an authenticator app (or type the secret in by hand):',
    '',
    qr,
    `  ${r.otpauthUri}`,
    `  secret: ${r.secret}`,
    '',
    'Then confirm with the code the app shows: medledger mfa verify CODE',
  ].join('\n'))
}

/**
 * `medledger mfa verify CODE`: confirms enrolment with a first code and the current password
 * (stdin, or a prompt with echo off) and prints the one-time recovery codes.
 */
export async function mfaVerify(c: Common, code: string | undefined): Promise<void> {
  if (!code) throw new CliError('USAGE', 'mfa verify needs CODE (the 6 digits the authenticator app shows)', 2)
  const { client, email } = session(c)
  const password = await readSecret(`Current password for ${email}: `)
  const r = await client.json<{ recoveryCodes: string[] }>('POST', '/mfa/totp/verify', { code, password })
  c.out.result(r, () => [
    'Two-factor sign-in is on: `medledger login` now needs --totp CODE.',
    'Recovery codes (each works once in place of a code; keep them somewhere safe, they are shown only now):',
    ...r.recoveryCodes.map((x) => `  ${x}`),
  ].join('\n'))
}

/**
 * `medledger mfa disable --code CODE`: turns two-factor sign-in off, with a code from the
 * authenticator (or a recovery code) and the current password (stdin, or a prompt with echo off).
 */
export async function mfaDisable(c: Common, { code }: { code?: string }): Promise<void> {
  if (!code) throw new CliError('USAGE', 'mfa disable needs --code CODE (from the authenticator app, or a recovery code)', 2)
  const { client, email } = session(c)
  const password = await readSecret(`Current password for ${email}: `)
  const r = await client.json<{ totpEnabled: boolean }>('POST', '/mfa/totp/disable', { password, code })
  c.out.result(r, () => 'Two-factor sign-in is off; your recovery codes no longer work.')
}

/**
 * `medledger user mfa-reset ID`: hospital staff (for their hospital's doctors and patients) or
 * the admin reset a member's two-factor sign-in; their own current password is read from stdin
 * or a prompt with echo off. The member is notified; the reset is in the account events.
 */
export async function userMfaReset(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'user mfa-reset needs ID (the account id, from `medledger user list`)', 2)
  const { client, email } = session(c)
  const password = await readSecret(`Your current password (${email}): `)
  const r = await client.json<{ accountId: string; mfaReset: boolean }>('POST', `/users/${encodeURIComponent(id)}/mfa/reset`, { password })
  c.out.result(r, () => `Two-factor sign-in of account ${r.accountId} is reset: its authenticator and recovery codes no longer work and its sessions ended. The member was notified.`)
}

/** `medledger account-events [--account ID]`: the admin's audit log of sign-in factor changes, newest first. */
export async function accountEvents(c: Common, f: { account?: string; limit?: string; offset?: string }): Promise<void> {
  const q = new URLSearchParams()
  if (f.account) q.set('account', f.account)
  if (f.limit) q.set('limit', f.limit)
  if (f.offset) q.set('offset', f.offset)
  const r = await session(c).client.json<{ events: { id: number; accountId: string; kind: string; actorId: string | null; createdAt: string }[]; total: number }>('GET', `/account-events${q.size ? `?${q}` : ''}`)
  c.out.result(r, () => r.events.map((e) => `${e.createdAt}  ${e.kind.padEnd(17)}  account ${e.accountId}  by ${e.actorId ?? 'the account (recovery code)'}`).join('\n') || 'No account events.')
}
