import { listHospitals } from '../../../accounts/list-hospitals.ts'
import { requireRole } from '../../../accounts/account.ts'
import { AppError } from '../../../errors.ts'
import type { Hospital } from '../../../accounts/hospital.ts'
import { directoryModule } from '../directory-module.ts'
import { ledgerIdentifier, toOrganization } from '../directory-resources.ts'
import { matchesName, matchesToken } from '../search-params.ts'

/** Organization: the consortium's hospitals, as GET /hospitals lists them to anyone signed in. */
export const organizationModule = directoryModule<Hospital>({
  type: 'Organization',
  search: [
    { name: '_id', type: 'token', documentation: 'The hospital id.', matches: (v, h) => v === h.id },
    { name: 'identifier', type: 'token', documentation: 'The hospital\'s ledger address: urn:ietf:rfc:3986|urn:ethereum:0x…', matches: (v, h) => matchesToken(v, [ledgerIdentifier(h.address)]) },
    { name: 'name', type: 'string', documentation: 'The name, or one of its words, starts with the value (case-insensitive).', matches: (v, h) => matchesName(v, h.name) },
  ],
  list: async (s, actor) => { requireRole(actor, 'admin', 'staff', 'doctor', 'patient'); return listHospitals(s) },
  read: async (s, actor, id) => {
    requireRole(actor, 'admin', 'staff', 'doctor', 'patient')
    const h = (await listHospitals(s)).find((x) => x.id === id)
    if (!h) throw new AppError('UNKNOWN_HOSPITAL')
    return toOrganization(h)
  },
  toResource: toOrganization,
})
