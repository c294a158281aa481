import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger hospital create --name N [--key-scheme S]`: the admin creates a hospital.
 * @throws CliError USAGE without --name; the node's code when it refuses.
 */
export async function hospitalCreate(c: Common, { name, 'key-scheme': keyScheme }: { name?: string; 'key-scheme'?: string }): Promise<void> {
  if (!name) throw new CliError('USAGE', 'hospital create needs --name N', 2)
  const h = await signedIn(c).client.json<{ id: string; name: string; address: string }>('POST', '/hospitals', { name, ...(keyScheme ? { keyScheme } : {}) })
  c.out.result(h, () => `Hospital ${h.name}: id ${h.id}, ledger address ${h.address}`)
}

/**
 * `medledger hospital admit --address ADDR --name N`: votes to admit a hospital that applied from its own node.
 * @throws CliError USAGE without both flags; the node's code when it refuses.
 */
export async function hospitalAdmit(c: Common, { address, name }: { address?: string; name?: string }): Promise<void> {
  if (!address || !name) throw new CliError('USAGE', 'hospital admit needs --address ADDR --name N', 2)
  const r = await signedIn(c).client.json<{ address: string; name: string; admitted: boolean }>('POST', '/hospitals/admit', { address, name })
  c.out.result(r, () => r.admitted ? `${r.name} (${r.address}) is a member of the consortium.` : `Voted to admit ${r.name} (${r.address}); the other members' votes decide (medledger hospital vote ${r.address} --approve).`)
}

/**
 * `medledger hospital list`: the hospitals the signed-in user may see.
 * @throws CliError the node's code when it refuses.
 */
export async function hospitalList(c: Common): Promise<void> {
  const { hospitals } = await signedIn(c).client.json<{ hospitals: { id: string; name: string; address: string; status: string }[] }>('GET', '/hospitals')
  c.out.result({ hospitals }, () => hospitals.map((h) => `${h.id}  ${h.address}  ${h.name}${h.status === 'active' ? '' : `  (${h.status})`}`).join('\n') || 'No hospitals.')
}

/**
 * `medledger hospital vote ID --approve|--reject`: a member's vote on a hospital's admission.
 * @throws CliError USAGE without ID or without exactly one of the two flags; the node's code when it refuses.
 */
export async function hospitalVote(c: Common, id: string | undefined, f: { approve: boolean; reject: boolean }): Promise<void> {
  if (!id || f.approve === f.reject) throw new CliError('USAGE', 'hospital vote needs ID and one of --approve or --reject', 2)
  const r = await signedIn(c).client.json<{ id: string; name: string; status: string }>('POST', `/hospitals/${encodeURIComponent(id)}/vote`, { approve: f.approve })
  c.out.result(r, () => `Voted ${f.approve ? 'to admit' : 'against'} ${r.name}: it is now ${r.status}.`)
}
