import type { NotificationFacts } from '../services.ts'

/** Every kind of notification the node sends; each has one template below. */
export const notificationKinds = [
  'record-added',
  'access-requested',
  'access-approved',
  'access-denied',
  'access-revoked',
  'emergency-access',
  'doctor-confirmed',
  'doctor-rejected',
  'mfa-reset',
  'mfa-disabled',
  'sign-up-attempted',
  'erasure-requested',
  'erasure-confirmed',
  'erasure-rejected',
  'researcher-confirmed',
  'researcher-rejected',
  'study-approved',
  'study-rejected',
  'team-access-granted',
  'team-access-revoked',
  'team-grant-confirmed',
] as const

export type NotificationKind = (typeof notificationKinds)[number]

export type PartyRole = 'admin' | 'staff' | 'doctor' | 'patient' | 'researcher' | 'hospital'

/** A person or hospital as a message may show them: a display name and a role, nothing else. */
export interface NamedParty {
  name: string
  role: PartyRole
}

export type { NotificationFacts } from '../services.ts'

export type RenderNotificationParams = NotificationFacts & {
  /** Who receives the message. */
  recipient: NamedParty
  /** The other party: who acted (the author, the requester, the patient, the confirming hospital…). */
  by: NamedParty
  /** The node's UI, e.g. `https://medledger.example.org`; empty = links are given as paths. */
  baseUrl: string
}

export interface RenderedNotification {
  subject: string
  body: string
}

/** The UI page each kind points to (the web portal serves these paths). */
export const uiPaths: Record<NotificationKind, string> = {
  'record-added': '/records',
  'access-requested': '/requests',
  'access-approved': '/requests',
  'access-denied': '/requests',
  'access-revoked': '/requests',
  'emergency-access': '/audit',
  'doctor-confirmed': '/account',
  'doctor-rejected': '/account',
  'mfa-reset': '/account',
  'mfa-disabled': '/account',
  'sign-up-attempted': '/recover',
  'erasure-requested': '/erasures',
  'erasure-confirmed': '/records',
  'erasure-rejected': '/records',
  'researcher-confirmed': '/account',
  'researcher-rejected': '/account',
  'study-approved': '/studies',
  'study-rejected': '/studies',
  'team-access-granted': '/records',
  'team-access-revoked': '/records',
  'team-grant-confirmed': '/teams',
}

const roleLabels: Record<PartyRole, string> = {
  admin: 'consortium admin',
  staff: 'hospital staff',
  doctor: 'doctor',
  patient: 'patient',
  researcher: 'researcher',
  hospital: 'hospital',
}

/** Renders the subject and plain-text body of one notification. */
export function renderNotification(p: RenderNotificationParams): RenderedNotification {
  const by = displayName(p.by.name)
  const who = `${by} (${roleLabels[p.by.role]})`
  const link = `${p.baseUrl}${uiPaths[p.kind]}`
  let subject: string
  let lines: string[]
  switch (p.kind) {
    case 'record-added':
      subject = 'A new record was added to your MedLedger file'
      lines = [`${who} added a new record to your file.`, `Sign in to see it: ${link}`]
      break
    case 'access-requested':
      subject = `${by} asks to read your records`
      lines = [
        `${who} asks to read ${p.recordCount === 'all' ? 'all your records' : `${p.recordCount} of your records`} for ${duration(p.durationSeconds)}.`,
        `Sign in to see the request and approve or deny it: ${link}`,
      ]
      break
    case 'access-approved':
      subject = `${by} approved your access request`
      lines = [
        `${who} approved your access request: you may read ${p.recordCount === 'all' ? 'all their records' : count(p.recordCount, 'record', 'records')} until ${date(p.expiresAt)}.`,
        `Sign in to see details: ${link}`,
      ]
      break
    case 'access-denied':
      subject = `${by} denied your access request`
      lines = [`${who} denied your access request.`, `Sign in to see details: ${link}`]
      break
    case 'access-revoked':
      subject = `${by} revoked your access`
      lines = [`${who} revoked the access to their records that you had been granted.`, `Sign in to see details: ${link}`]
      break
    case 'emergency-access':
      subject = 'Emergency access to your records'
      lines = [
        `${who} opened emergency (break-glass) access to your records, until ${date(p.expiresAt)}. The access and every read are recorded on the ledger.`,
        `Sign in to see details and your audit trail: ${link}`,
      ]
      break
    case 'mfa-reset':
    case 'mfa-disabled':
      ({ subject, lines } = mfaMessage(p.kind, who, link))
      break
    case 'erasure-requested':
    case 'erasure-confirmed':
    case 'erasure-rejected':
      ({ subject, lines } = erasureMessage(p.kind, who, link))
      break
    case 'doctor-confirmed':
    case 'doctor-rejected':
    case 'researcher-confirmed':
    case 'researcher-rejected':
    case 'study-approved':
    case 'study-rejected':
      ({ subject, lines } = confirmationMessage(p.kind, who, link))
      break
    case 'team-access-granted':
    case 'team-access-revoked':
    case 'team-grant-confirmed':
      ({ subject, lines } = teamMessage(p, by, who, link))
      break
    case 'sign-up-attempted':
      ({ subject, lines } = signUpMessage(link))
      break
  }
  const body = [
    `Hello ${displayName(p.recipient.name)},`,
    '',
    ...lines.flatMap((l) => [l, '']),
    'This message holds no medical information; everything else is in MedLedger once you sign in.',
    '-- ',
    'MedLedger',
    '',
  ].join('\n')
  return { subject, body }
}

/** A name as it may stand in a header or a line: one line, no control characters, bounded. */
function displayName(name: string): string {
  const clean = name.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ').replace(/\s+/g, ' ').trim()
  return (clean.length > 80 ? `${clean.slice(0, 79)}…` : clean) || 'Someone'
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

function duration(seconds: number): string {
  if (seconds % 86400 === 0) return count(seconds / 86400, 'day', 'days')
  return count(Math.ceil(seconds / 3600), 'hour', 'hours')
}

function date(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/**
 * Sent instead of telling the person signing up that the address is taken: no account was
 * created and nothing was changed; `by` is the account itself.
 */
function signUpMessage(link: string): { subject: string; lines: string[] } {
  return {
    subject: 'Someone tried to sign up with your e-mail address',
    lines: [
      'Someone tried to create a new MedLedger account with your e-mail address. Your account already exists, so no account was created and nothing about yours was changed.',
      `If it was you, sign in as usual, or use your recovery code if you cannot: ${link}`,
      'If it was not you, you need not do anything.',
    ],
  }
}

/**
 * A patient's grant to a care team: to each member (by the patient), and to the patient (by the
 * team's hospital). Never the team's name (set by staff, free text): the hospital, counts, a date.
 */
function teamMessage(p: Extract<NotificationFacts, { kind: `team-${string}` }>, by: string, who: string, link: string): { subject: string; lines: string[] } {
  if (p.kind === 'team-access-revoked') {
    return { subject: `${by} revoked a care team's access`, lines: [`${who} revoked the access to their records they had granted a care team you are a member of.`, `Sign in to see details: ${link}`] }
  }
  const what = p.recordCount === 'all' ? 'all' : `all (${count(p.recordCount, 'record', 'records')} now)`
  if (p.kind === 'team-access-granted') {
    return {
      subject: `${by} granted your care team access`,
      lines: [`${who} granted a care team you are a member of access to ${what} of their records until ${date(p.expiresAt)}. You may read them while you are a member; each read is recorded on the ledger.`, `Sign in to see them: ${link}`],
    }
  }
  return {
    subject: 'You granted a care team access to your records',
    lines: [`You granted a care team of ${who} access to ${what} of your records until ${date(p.expiresAt)}. Every member's read is recorded on the ledger, and you may revoke the grant at any time.`, `If it was not you, revoke it and tell your hospital at once: ${link}`],
  }
}

/** The two messages about the account's own second factor: reset by someone else, or turned off. */
function mfaMessage(kind: 'mfa-reset' | 'mfa-disabled', who: string, link: string): { subject: string; lines: string[] } {
  if (kind === 'mfa-reset') {
    return {
      subject: 'Your two-factor sign-in was reset',
      lines: [
        `${who} reset the two-factor sign-in of your account: your authenticator app and recovery codes no longer work, and your sessions were ended. Sign in again without a code, then set up an authenticator again (your role may require it).`,
        `If you did not ask for this, tell your hospital at once. Sign in: ${link}`,
      ],
    }
  }
  return {
    subject: 'Two-factor sign-in was turned off',
    lines: [
      'Two-factor sign-in was turned off for your account: your authenticator app and recovery codes no longer work, and no code is asked for at sign-in any more.',
      `If it was not you, recover your account and tell your hospital at once. Sign in: ${link}`,
    ],
  }
}

/** Erasure messages: who asked or decided, never which record, its content or a reason. */
function erasureMessage(kind: 'erasure-requested' | 'erasure-confirmed' | 'erasure-rejected', who: string, link: string): { subject: string; lines: string[] } {
  if (kind === 'erasure-requested') {
    return { subject: 'A patient asks to erase a record', lines: [`${who} asks your hospital to erase one of their records.`, `Sign in to confirm or reject the request: ${link}`] }
  }
  if (kind === 'erasure-confirmed') {
    return { subject: 'Your record was erased', lines: [`${who} confirmed your request: the record was erased and can no longer be read by anyone.`, `Sign in to see your records: ${link}`] }
  }
  return { subject: 'Your erasure request was rejected', lines: [`${who} rejected your request to erase a record; it stays in your file.`, `Sign in to see details: ${link}`] }
}

/**
 * A doctor's or researcher's account confirmed or not, and a researcher's study approved or
 * rejected. None names the study nor gives a rejection's reason: both are seen in the portal.
 */
function confirmationMessage(kind: 'doctor-confirmed' | 'doctor-rejected' | 'researcher-confirmed' | 'researcher-rejected' | 'study-approved' | 'study-rejected', who: string, link: string): { subject: string; lines: string[] } {
  switch (kind) {
    case 'doctor-confirmed':
      return { subject: 'Your doctor account is confirmed', lines: [`${who} confirmed your doctor account. You may now work with your hospital's patients' records.`, `Sign in: ${link}`] }
    case 'doctor-rejected':
      return { subject: 'Your doctor account was not confirmed', lines: [`${who} did not confirm your doctor account.`, `Sign in to see details: ${link}`] }
    case 'researcher-confirmed':
      return { subject: 'Your researcher account is confirmed', lines: [`${who} confirmed your researcher account. You may now propose studies; records reach you only de-identified, from patients who consented.`, `Sign in: ${link}`] }
    case 'researcher-rejected':
      return { subject: 'Your researcher account was not confirmed', lines: [`${who} did not confirm your researcher account.`, `Sign in to see details: ${link}`] }
    case 'study-approved':
      return { subject: 'Your study was approved', lines: [`${who} approved one of your studies. Patients may now consent to it.`, `Sign in to see it: ${link}`] }
    case 'study-rejected':
      return { subject: 'Your study was not approved', lines: [`${who} rejected one of your studies.`, `Sign in to see details: ${link}`] }
  }
}
