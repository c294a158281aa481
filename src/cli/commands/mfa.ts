import QRCode from 'qrcode'
import { CliError, createClient, pickSession, type ApiClient } from '../client.ts'
import type { Common } from './client-commands.ts'

function session(c: Common): ApiClient {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', c.as ? `No session for ${c.as} on ${c.api}: run \`medledger login --email ${c.as}\`.` : `Not signed in on ${c.api}: run \`medledger login --email E\`.`)
  return createClient(c.api, s.token)
}

/** `medledger mfa enroll`: starts TOTP enrolment and shows the secret as a QR code and an otpauth:// URI. */
export async function mfaEnroll(c: Common): Promise<void> {
  const r = await session(c).json<{ otpauthUri: string; secret: string; qrSvg: string }>('POST', '/mfa/totp')
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

/** `medledger mfa verify CODE`: confirms enrolment with a first code and prints the one-time recovery codes. */
export async function mfaVerify(c: Common, code: string | undefined): Promise<void> {
  if (!code) throw new CliError('USAGE', 'mfa verify needs CODE (the 6 digits the authenticator app shows)', 2)
  const r = await session(c).json<{ recoveryCodes: string[] }>('POST', '/mfa/totp/verify', { code })
  c.out.result(r, () => [
    'Two-factor sign-in is on: `medledger login` now needs --totp CODE.',
    'Recovery codes (each works once in place of a code; keep them somewhere safe, they are shown only now):',
    ...r.recoveryCodes.map((x) => `  ${x}`),
  ].join('\n'))
}
