import { Secret, TOTP } from 'otpauth'

/** RFC 6238 as authenticator apps expect it: HMAC-SHA-1, 6 digits, 30-second steps. */
export const totpParams = { algorithm: 'SHA1', digits: 6, period: 30 } as const

/** How many steps a code may be early or late (clock drift, typing time): ±1 step. */
export const totpWindow = 1

/** A fresh TOTP secret: 160 random bits (RFC 4226's recommended length), in base32. */
export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32
}

/** The `otpauth://totp/…` URI an authenticator app scans, with issuer MedLedger. */
export function totpUri({ secret, label }: { secret: string; label: string }): string {
  return new TOTP({ issuer: 'MedLedger', label, secret: Secret.fromBase32(secret), ...totpParams }).toString()
}

/** The time step (`floor(unix seconds / 30)`) a moment in milliseconds falls in. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / totpParams.period)
}

/**
 * The time step whose code `code` is, when it is one of the steps in the ±1 window around
 * `nowMs`; undefined otherwise. The caller refuses a step it has already accepted (replay).
 */
export function matchTotp({ secret, code, nowMs }: { secret: string; code: string; nowMs: number }): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined
  const delta = TOTP.validate({ token: code, secret: Secret.fromBase32(secret), timestamp: nowMs, window: totpWindow, ...totpParams })
  return delta === null ? undefined : totpStep(nowMs) + delta
}
