/** Random tokens (sessions, share links, invitations) and record ids. */
import { createHash, randomBytes } from 'node:crypto'
import { AppError } from '../errors.ts'

/** A fresh bearer token: 32 random bytes, unpadded base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url')
}

/** The SHA-256 of a token, lowercase hex: what gets stored instead of the token itself. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** A fresh record id: 32 random bytes as 0x-prefixed lowercase hex (a Solidity bytes32). */
export function generateRecordId(): `0x${string}` {
  return `0x${randomBytes(32).toString('hex')}`
}

/**
 * The canonical form (0x-prefixed, lowercase) of a record id given as 64 hex characters,
 * with or without 0x.
 * @throws AppError INVALID_RECORD_ID for anything else.
 */
export function parseRecordId(s: string): `0x${string}` {
  const match = typeof s === 'string' ? /^(?:0x)?([0-9a-fA-F]{64})$/.exec(s) : null
  if (match === null) throw new AppError('INVALID_RECORD_ID')
  return `0x${match[1]!.toLowerCase()}`
}
