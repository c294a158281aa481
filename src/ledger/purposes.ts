/**
 * Purpose codes of the Consent contract (`requestAccess`, `logAccess` and the `purpose` of its
 * events), as documented in contracts/IConsent.sol. The contract refuses any other code.
 */
export const purposes = {
  /** The patient reads their own record. */
  own: 1,
  /** The doctor who anchored the record reads it. */
  author: 2,
  /** A doctor reads under an approved access request (treatment). */
  grant: 3,
  /** A named account reads under a patient's share. */
  share: 4,
  /** A token holder reads under a share token, served by a member hospital. */
  shareToken: 5,
  /** A doctor reads under a declared emergency (break-glass). */
  emergency: 6,
  /** An audit or integrity check. */
  verify: 7,
  /** A member of a care team reads under the patient's grant to the team (`ref` is the team id). */
  team: 8,
} as const

export type PurposeName = keyof typeof purposes
export type PurposeCode = (typeof purposes)[PurposeName]

/** Purpose code → name, for display. */
export const purposeNames: Readonly<Record<number, PurposeName>> = Object.freeze(
  Object.fromEntries(Object.entries(purposes).map(([name, code]) => [code, name as PurposeName])),
)
