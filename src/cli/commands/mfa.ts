import { CliError } from '../client.ts'
import { readSecret } from '../io.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger mfa enroll`: starts TOTP enrolment (the current password is read from stdin, or
 * asked for with echo off) and shows the secret as a QR code and an otpauth:// URI.
 */
export async function mfaEnroll(c: Common): Promise<void> {
  const { client, email } = signedIn(c)
  const password = await readSecret(`Current password for ${email}: `)
  const r = await client.json<{ otpauthUri: string; secret: string; qrSvg: string }>('POST', '/mfa/totp', { password })
  // The QR code library is loaded only for the plain output that draws one.
  const qr = c.out.json ? '' : await (await import('qrcode')).default.toString(r.otpauthUri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' })
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
  const { client, email } = signedIn(c)
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
  const { client, email } = signedIn(c)
  const password = await readSecret(`Current password for ${email}: `)
  const r = await client.json<{ totpEnabled: boolean }>('POST', '/mfa/totp/disable', { password, code })
  c.out.result(r, () => 'Two-factor sign-in is off; your recovery codes no longer work.')
}
