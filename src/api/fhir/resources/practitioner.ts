import { listVisibleAccounts } from '../../../consent/list-visible-accounts.ts'
import { resolveAccount } from '../../../consent/resolve-account.ts'
import { AppError } from '../../../errors.ts'
import type { Account, Actor } from '../../../accounts/account.ts'
import type { Services } from '../../../services.ts'
import { directoryModule } from '../directory-module.ts'
import { ledgerIdentifier, toPractitioner, toPractitionerRole } from '../directory-resources.ts'
import { matchesName, matchesToken, referenceId } from '../search-params.ts'

const isStaff = (a: { role: string }) => a.role === 'doctor' || a.role === 'staff'

/** Doctors and staff the actor may see in the native directory (GET /users). */
async function listStaff(s: Services, actor: Actor): Promise<Account[]> {
  return (await listVisibleAccounts(s, { actor })).filter(isStaff)
}

/**
 * One doctor or staff account, as POST /users/resolve finds it for the actor, in full.
 * @throws AppError UNKNOWN_ACCOUNT (absent or not visible)
 */
async function readStaff(s: Services, actor: Actor, id: string): Promise<Account> {
  const a = await resolveAccount(s, { actor, ref: id })
  if (!('name' in a) || !isStaff(a) || a.id !== id) throw new AppError('UNKNOWN_ACCOUNT')
  return a
}

/** Practitioner: read and search, from doctor and staff accounts, with the native directory's visibility. */
export const practitionerModule = directoryModule<Account>({
  type: 'Practitioner',
  search: [
    { name: '_id', type: 'token', documentation: 'The account id.', matches: (v, a) => v === a.id },
    { name: 'identifier', type: 'token', documentation: 'The ledger address: urn:ietf:rfc:3986|urn:ethereum:0x…', matches: (v, a) => matchesToken(v, [ledgerIdentifier(a.address)]) },
    { name: 'name', type: 'string', documentation: 'The name, or one of its words, starts with the value (case-insensitive).', matches: (v, a) => matchesName(v, a.name) },
  ],
  list: listStaff,
  read: async (s, actor, id) => toPractitioner(await readStaff(s, actor, id)),
  toResource: toPractitioner,
})

/** PractitionerRole: each doctor's or staff member's role at their hospital (same id as the Practitioner). */
export const practitionerRoleModule = directoryModule<Account>({
  type: 'PractitionerRole',
  search: [
    { name: '_id', type: 'token', documentation: 'The account id.', matches: (v, a) => v === a.id },
    { name: 'organization', type: 'reference', documentation: 'The hospital (Organization/id).', matches: (v, a) => a.hospitalId !== null && referenceId(v, 'Organization') === a.hospitalId },
    { name: 'practitioner', type: 'reference', documentation: 'The practitioner (Practitioner/id).', matches: (v, a) => referenceId(v, 'Practitioner') === a.id },
  ],
  list: listStaff,
  read: async (s, actor, id) => toPractitionerRole(await readStaff(s, actor, id)),
  toResource: toPractitionerRole,
})
