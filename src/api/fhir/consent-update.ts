import type { Hex } from 'viem'
import type { FromSchema } from 'json-schema-to-ts'
import { listConsentDirectives, type ConsentDirectives } from '../../consent/list-consent-directives.ts'
import { approveAccess } from '../../consent/approve-access.ts'
import { denyAccess } from '../../consent/deny-access.ts'
import { revokeAccess } from '../../consent/revoke-access.ts'
import { revokeShare } from '../../consent/shares.ts'
import type { AccessRequestView } from '../../consent/access-request.ts'
import type { Actor } from '../../accounts/account.ts'
import { AppError } from '../../errors.ts'
import { grantStatus, teamConsentNativeId, toConsents, type ConsentStatus, type FhirConsent } from './consent-resource.ts'
import { revokeTeamGrant } from '../../consent/grant-team.ts'
import { parseConsentId } from './consent-id.ts'
import type { Services } from '../../services.ts'

/** The parts of a Consent a PUT acts on; the rest of the resource is as the server sent it and is not read. */
export const consentUpdateBody = {
  type: 'object',
  required: ['resourceType', 'status'],
  properties: {
    resourceType: { const: 'Consent' },
    id: { type: 'string', maxLength: 64 },
    status: { type: 'string', enum: ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'] },
    provision: {
      type: 'object',
      properties: {
        period: { type: 'object', properties: { start: { type: 'string', maxLength: 40 }, end: { type: 'string', maxLength: 40 } } },
        data: {
          type: 'array',
          maxItems: 10000,
          items: { type: 'object', properties: { reference: { type: 'object', properties: { reference: { type: 'string', maxLength: 200 } } } } },
        },
      },
    },
  },
} as const
type ConsentUpdate = FromSchema<typeof consentUpdateBody>

/** The reason a denial by PUT (status rejected) gives: a Consent has no field for one, and the native denial needs one. */
export const fhirDenialReason = 'Denied by the patient (FHIR Consent status rejected).'

/**
 * A PUT of a Consent: the patient moves a request or share to the status sent, through exactly
 * the native operation — approveAccess (proposed → active, narrowed by `provision.period.end` and
 * `provision.data`), denyAccess (proposed → rejected), revokeAccess (active → inactive), revokeShare
 * (a share, active → inactive), revokeTeamGrant (a grant to a care team, active → inactive). The status it already has changes nothing. Answers the Consent as it is then.
 * @throws AppError REQUEST_NOT_FOUND, SHARE_NOT_FOUND, NOT_FOUND (not visible), NOT_REQUEST_PATIENT, FORBIDDEN,
 *   VALIDATION_FAILED, REQUEST_NOT_PENDING, GRANT_NOT_ACTIVE, INVALID_DURATION, RECORD_NOT_FOUND, LEDGER_*
 */
export async function updateConsent(s: Services, { actor, id, body }: { actor: Actor; id: string; body: ConsentUpdate }): Promise<FhirConsent> {
  const { kind, nativeId } = parseConsentId(id)
  if (body.id !== undefined && body.id !== id) throw new AppError('VALIDATION_FAILED', { message: 'The Consent\'s id must be the one in the URL.' })
  const before = await listConsentDirectives(s, { actor })
  const current = toConsents(before).find((c) => c.id === id)
  if (kind === 'grant') {
    const view = before.grants.find((g) => g.requestId.toLowerCase() === nativeId)
    if (!view || !current) throw new AppError('REQUEST_NOT_FOUND')
    if (actor.account.id !== view.patient.id) throw new AppError('NOT_REQUEST_PATIENT')
    await decideGrant(s, { actor, view, to: body.status, body, now: before.now })
  } else if (kind === 'share') {
    const view = before.shares.find((sh) => sh.shareId.toLowerCase() === nativeId)
    if (!view || !current) throw new AppError('SHARE_NOT_FOUND')
    if (before.sharePatients.get(view.shareId)?.id !== actor.account.id) throw new AppError('FORBIDDEN')
    if (body.status !== current.status) {
      if (body.status !== 'inactive' || current.status !== 'active') throw new AppError('VALIDATION_FAILED', { message: 'A share can only be ended: status inactive.' })
      await revokeShare(s, { actor, shareId: view.shareId })
    }
  } else if (kind === 'team') {
    const view = before.teams.find((t) => teamConsentNativeId(t.teamId, t.patient.id) === nativeId)
    if (!view || !current) throw new AppError('NOT_FOUND')
    if (body.status !== current.status) {
      if (body.status !== 'inactive' || current.status !== 'active') throw new AppError('VALIDATION_FAILED', { message: 'A care team\'s grant can only be ended here: status inactive.' })
      await revokeTeamGrant(s, { actor, teamId: view.teamId })
    }
  } else {
    if (!current) throw new AppError('NOT_FOUND')
    // A break-glass access is the doctor's declaration and the hospital's release, on chain; a research
    // consent changes by POST /studies/:id/consent or /withdraw: no one changes either by PUT.
    throw new AppError('FORBIDDEN')
  }
  const after = toConsents(await listConsentDirectives(s, { actor })).find((c) => c.id === id)
  if (!after) throw new AppError('NOT_FOUND')
  return after
}

/** Moves an access request from its status to `to` by the native operation for that step; the same status is no step. */
async function decideGrant(s: Services, { actor, view, to, body, now }: { actor: Actor; view: AccessRequestView; to: string; body: ConsentUpdate; now: ConsentDirectives['now'] }): Promise<void> {
  const from: ConsentStatus = grantStatus(view)
  if (to === from) return
  const requestId = view.requestId
  if (to === 'active') {
    if (from !== 'proposed') throw new AppError('REQUEST_NOT_PENDING')
    await approveAccess(s, { actor, requestId, ...narrowing(view, body, now) })
  } else if (to === 'rejected') {
    if (from !== 'proposed') throw new AppError('REQUEST_NOT_PENDING')
    await denyAccess(s, { actor, requestId, reason: fhirDenialReason })
  } else if (to === 'inactive') {
    await revokeAccess(s, { actor, requestId })
  } else if (to === 'proposed') {
    throw new AppError('REQUEST_NOT_PENDING')
  } else {
    throw new AppError('VALIDATION_FAILED', { message: 'A Consent\'s status here is proposed, active, inactive or rejected.' })
  }
}

/**
 * What an approval by PUT narrows: days from `provision.period.end` (by the chain's clock `now`),
 * records from `provision.data` when they differ from those requested.
 * @throws AppError VALIDATION_FAILED
 */
function narrowing(view: AccessRequestView, body: ConsentUpdate, now: number): { days?: number; recordIds?: string[] } {
  const out: { days?: number; recordIds?: string[] } = {}
  const end = body.provision?.period?.end
  if (end !== undefined) {
    const t = Date.parse(end)
    if (!Number.isFinite(t)) throw new AppError('VALIDATION_FAILED', { message: 'provision.period.end is not a date-time.' })
    out.days = (t / 1000 - now) / 86_400
  }
  const data = body.provision?.data
  if (data !== undefined) {
    const ids = data.map((d) => {
      const m = /^(?:.*\/)?DocumentReference\/([0-9a-fA-F]{64})$/.exec(d.reference?.reference ?? '')
      if (!m) throw new AppError('VALIDATION_FAILED', { message: 'provision.data lists DocumentReference/{id} references.' })
      return `0x${m[1].toLowerCase()}` as Hex
    })
    const requested = view.recordIds?.map((r) => r.toLowerCase())
    const same = requested !== undefined && ids.length === requested.length && ids.every((r) => requested.includes(r))
    if (ids.length > 0 && !same) out.recordIds = ids
  }
  return out
}
