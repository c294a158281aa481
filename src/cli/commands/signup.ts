import { CliError, createClient } from '../client.ts'
import { readSecret } from '../io.ts'
import type { Common } from '../session.ts'

/**
 * `medledger signup --role doctor|patient|researcher --hospital ID --email E --name N [--licence L]`:
 * self sign-up, the password read from stdin (or a prompt with echo off).
 * @throws CliError USAGE without a required flag; the node's code when it refuses.
 */
export async function signup(c: Common, f: { role?: string; hospital?: string; email?: string; name?: string; licence?: string; 'key-scheme'?: string }): Promise<void> {
  if (!f.role || !f.hospital || !f.email || !f.name) throw new CliError('USAGE', 'signup needs --role doctor|patient|researcher --hospital ID --email E --name N [--licence L]', 2)
  const password = await readSecret(`Choose a password for ${f.email}: `)
  const r = await createClient(c.api).json<{ account: { id: string; email: string; role: string; status: string }; recoveryCode: string }>('POST', '/signup', {
    role: f.role, hospital: f.hospital, email: f.email, name: f.name, password, ...(f.licence ? { licence: f.licence } : {}), ...(f['key-scheme'] ? { keyScheme: f['key-scheme'] } : {}),
  })
  c.out.result({ ...r.account, recoveryCode: r.recoveryCode }, () =>
    `Signed up ${r.account.email} as ${r.account.role} (${r.account.status}${r.account.status === 'pending' ? ': waiting for confirmation by the hospital or the admin' : ''}).\nRecovery code (store it now, shown once): ${r.recoveryCode}`)
}
