import { CliError } from '../client.ts'
import { readSecret } from '../io.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger user create --role R --email E --name N [--hospital ID] [--key-scheme S]`: the
 * new account's password is read from stdin (or a prompt with echo off).
 * @throws CliError USAGE without --role, --email or --name; the node's code when it refuses.
 */
export async function userCreate(c: Common, f: { role?: string; hospital?: string; email?: string; name?: string; 'key-scheme'?: string }): Promise<void> {
  if (!f.role || !f.email || !f.name) throw new CliError('USAGE', 'user create needs --role doctor|patient|staff --email E --name N [--hospital ID]', 2)
  const password = await readSecret(`Password for ${f.email}: `)
  const r = await signedIn(c).client.json<{ account: { id: string; address: string; email: string; role: string }; recoveryCode: string }>('POST', '/users', {
    role: f.role, email: f.email, name: f.name, password, ...(f.hospital ? { hospital: f.hospital } : {}), ...(f['key-scheme'] ? { keyScheme: f['key-scheme'] } : {}),
  })
  c.out.result({ ...r.account, recoveryCode: r.recoveryCode }, () =>
    `Created ${r.account.role} ${r.account.email}: id ${r.account.id}, ledger address ${r.account.address}\nRecovery code (give it to the user, shown once): ${r.recoveryCode}`)
}

/**
 * `medledger user list [--role R] [--hospital ID]`: the accounts the signed-in user may see.
 * @throws CliError the node's code when it refuses.
 */
export async function userList(c: Common, f: { role?: string; hospital?: string }): Promise<void> {
  const q = new URLSearchParams()
  if (f.role) q.set('role', f.role)
  if (f.hospital) q.set('hospital', f.hospital)
  const { users } = await signedIn(c).client.json<{ users: { id: string; email: string; role: string; name: string }[] }>('GET', `/users${q.size ? `?${q}` : ''}`)
  c.out.result({ users }, () => users.map((u) => `${u.id}  ${u.role.padEnd(7)}  ${u.email}  ${u.name}`).join('\n') || 'No users.')
}

/**
 * `medledger user mfa-reset ID`: hospital staff (for their hospital's doctors and patients) or
 * the admin reset a member's two-factor sign-in; their own current password is read from stdin
 * or a prompt with echo off. The member is notified; the reset is in the account events.
 * @throws CliError USAGE without ID; the node's code when it refuses.
 */
export async function userMfaReset(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'user mfa-reset needs ID (the account id, from `medledger user list`)', 2)
  const { client, email } = signedIn(c)
  const password = await readSecret(`Your current password (${email}): `)
  const r = await client.json<{ accountId: string; mfaReset: boolean }>('POST', `/users/${encodeURIComponent(id)}/mfa/reset`, { password })
  c.out.result(r, () => `Two-factor sign-in of account ${r.accountId} is reset: its authenticator and recovery codes no longer work and its sessions ended. The member was notified.`)
}
