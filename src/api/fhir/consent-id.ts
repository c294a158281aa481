import type { Hex } from 'viem'
import { AppError } from '../../errors.ts'

/** What a Consent stands for: an access request and its grant, a share, a break-glass access, a research consent to a study, a grant to a care team. */
export type ConsentKind = 'grant' | 'share' | 'emergency' | 'research' | 'team'

const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'

/**
 * A Consent's FHIR id: its kind, a dash, and the 32-byte native id (request, share or emergency
 * id) in lower-case RFC 4648 base32 without padding (52 characters) — a FHIR id holds at most 64
 * characters, so the 64 hexadecimal digits and a kind would not fit. Stable, and never the same
 * for two kinds.
 */
export function consentId(kind: ConsentKind, nativeId: Hex): string {
  return `${kind}-${base32Of(nativeId)}`
}

/**
 * The kind and native id of a Consent's FHIR id.
 * @throws AppError NOT_FOUND for anything {@link consentId} does not make (no Consent has that id)
 */
export function parseConsentId(id: string): { kind: ConsentKind; nativeId: Hex } {
  const m = /^(grant|share|emergency|research|team)-([a-z2-7]{52})$/.exec(id)
  const nativeId = m ? hexOfBase32(m[2]) : undefined
  if (!m || !nativeId) throw new AppError('NOT_FOUND')
  return { kind: m[1] as ConsentKind, nativeId }
}

/** 32 bytes (0x-hex) as 52 characters of lower-case RFC 4648 base32, unpadded. */
export function base32Of(hex: Hex): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of Buffer.from(hex.slice(2), 'hex')) {
    value = ((value << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}

/** The 32 bytes (0x-hex) of 52 base32 characters made by {@link base32Of}; undefined for any other text. */
export function hexOfBase32(text: string): Hex | undefined {
  if (!/^[a-z2-7]{52}$/.test(text)) return undefined
  let bits = 0
  let value = 0
  const bytes: number[] = []
  for (const c of text) {
    value = ((value << 5) | alphabet.indexOf(c)) & 0xffff
    bits += 5
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  // 52 characters carry 260 bits: the last 4 must be zero, or two texts would name one id.
  if ((value & ((1 << bits) - 1)) !== 0) return undefined
  return `0x${Buffer.from(bytes).toString('hex')}`
}
