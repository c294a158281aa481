import { createReadStream, statSync, openSync, closeSync, readSync, fsyncSync, renameSync, rmSync, createWriteStream } from 'node:fs'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createHash, randomBytes } from 'node:crypto'
import { CliError, createClient, dropSession, pickSession, saveSession, type ApiClient } from '../client.ts'
import { progressBar, readSecret, type Out } from '../io.ts'

export interface Common { api: string; as?: string; out: Out }

function session(c: Common): ApiClient {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', c.as ? `No session for ${c.as} on ${c.api}: run \`medledger login --email ${c.as}\`.` : `Not signed in on ${c.api}: run \`medledger login --email E\`.`)
  return createClient(c.api, s.token)
}

/** Resolves a patient given by e-mail, id or address to its account (e-mails travel in bodies, not URLs). */
async function resolveAccount(client: ApiClient, ref: string): Promise<{ id: string; address: string; email: string }> {
  return client.json('POST', '/users/resolve', { ref })
}

export async function loginCommand(c: Common, { email, totp }: { email?: string; totp?: string }): Promise<void> {
  if (!email) throw new CliError('USAGE', 'login needs --email E', 2)
  const password = await readSecret(`Password for ${email}: `)
  type Answer = { token: string; expiresAt: string; account: { id: string; role: string; email: string }; mfaEnrollmentRequired: boolean }
  const signIn = (code?: string) => createClient(c.api).json<Answer>('POST', '/auth/login', { email, password, ...(code ? { totp: code } : {}) })
  let r: Answer
  try {
    r = await signIn(totp)
  } catch (err) {
    // On a terminal, ask for the code instead of failing; piped input has been read already.
    if (!(err instanceof CliError && err.code === 'MFA_REQUIRED' && !totp && process.stdin.isTTY)) throw err
    r = await signIn(await readSecret('Authenticator code (or a recovery code): '))
  }
  saveSession(c.api, r.account.email, { token: r.token, expiresAt: r.expiresAt, role: r.account.role, accountId: r.account.id })
  c.out.result({ account: r.account, expiresAt: r.expiresAt, mfaEnrollmentRequired: r.mfaEnrollmentRequired }, () => `Signed in as ${r.account.email} (${r.account.role}) until ${r.expiresAt}.` +
    (r.mfaEnrollmentRequired ? '\nYour role needs two-factor sign-in: run `medledger mfa enroll`, then `medledger mfa verify CODE`; nothing else works until then.' : ''))
}

export async function logoutCommand(c: Common): Promise<void> {
  const s = pickSession(c.api, c.as)
  if (!s) throw new CliError('UNAUTHENTICATED', 'No session to end.')
  await createClient(c.api, s.token).request('POST', '/auth/logout').catch(() => undefined)
  dropSession(c.api, s.email)
  c.out.result({ ok: true, email: s.email }, () => `Signed out ${s.email}.`)
}

export async function statusCommand(c: Common): Promise<void> {
  const st = await createClient(c.api).json<Record<string, unknown> & { contracts: Record<string, string> }>('GET', '/status')
  c.out.result(st, () => [
    `chain      ${st.chainRpc} (id ${st.chainId}), block ${st.blockNumber}`,
    `registry   ${st.contracts.registry}`,
    `ledger     ${st.contracts.recordLedger}`,
    `records    ${st.records}   hospitals ${st.hospitals}   accounts ${st.accounts}   journal backlog ${st.journalBacklog}`,
    ...(st.hospitalAddress ? [`hospital   ${st.hospitalAddress} (${st.admitted ? 'admitted' : 'waiting to be admitted'})`] : []),
    ...(st.ipfsPeerId ? [`ipfs       ${st.ipfsPeerId}  peers ${(st.peers as string[]).length}  ${(st.ipfsAddrs as string[]).join(' ')}`] : []),
    ...(st.follow ? [`follower   block ${(st.follow as { lastBlock: number }).lastBlock}, ${(st.follow as { lagBlocks: number }).lagBlocks} behind, ${st.quarantinedEvents ?? 0} events quarantined`] : []),
    ...(st.replication ? [`replicas   ${(st.replication as { pinned: number }).pinned} pinned, ${(st.replication as { pending: number }).pending} pending (R=${(st.replication as { replicas: number }).replicas})`] : []),
  ].join('\n'))
}

export async function hospitalCreate(c: Common, { name, 'key-scheme': keyScheme }: { name?: string; 'key-scheme'?: string }): Promise<void> {
  if (!name) throw new CliError('USAGE', 'hospital create needs --name N', 2)
  const h = await session(c).json<{ id: string; name: string; address: string }>('POST', '/hospitals', { name, ...(keyScheme ? { keyScheme } : {}) })
  c.out.result(h, () => `Hospital ${h.name}: id ${h.id}, ledger address ${h.address}`)
}

export async function hospitalAdmit(c: Common, { address, name }: { address?: string; name?: string }): Promise<void> {
  if (!address || !name) throw new CliError('USAGE', 'hospital admit needs --address ADDR --name N', 2)
  const r = await session(c).json<{ address: string; name: string; admitted: boolean }>('POST', '/hospitals/admit', { address, name })
  c.out.result(r, () => r.admitted ? `${r.name} (${r.address}) is a member of the consortium.` : `Voted to admit ${r.name} (${r.address}); the other members' votes decide (medledger hospital vote ${r.address} --approve).`)
}

export async function hospitalList(c: Common): Promise<void> {
  const { hospitals } = await session(c).json<{ hospitals: { id: string; name: string; address: string; status: string }[] }>('GET', '/hospitals')
  c.out.result({ hospitals }, () => hospitals.map((h) => `${h.id}  ${h.address}  ${h.name}${h.status === 'active' ? '' : `  (${h.status})`}`).join('\n') || 'No hospitals.')
}

export async function userCreate(c: Common, f: { role?: string; hospital?: string; email?: string; name?: string; 'key-scheme'?: string }): Promise<void> {
  if (!f.role || !f.email || !f.name) throw new CliError('USAGE', 'user create needs --role doctor|patient|staff --email E --name N [--hospital ID]', 2)
  const password = await readSecret(`Password for ${f.email}: `)
  const r = await session(c).json<{ account: { id: string; address: string; email: string; role: string }; recoveryCode: string }>('POST', '/users', {
    role: f.role, email: f.email, name: f.name, password, ...(f.hospital ? { hospital: f.hospital } : {}), ...(f['key-scheme'] ? { keyScheme: f['key-scheme'] } : {}),
  })
  c.out.result({ ...r.account, recoveryCode: r.recoveryCode }, () =>
    `Created ${r.account.role} ${r.account.email}: id ${r.account.id}, ledger address ${r.account.address}\nRecovery code (give it to the user, shown once): ${r.recoveryCode}`)
}

export async function userList(c: Common, f: { role?: string; hospital?: string }): Promise<void> {
  const q = new URLSearchParams()
  if (f.role) q.set('role', f.role)
  if (f.hospital) q.set('hospital', f.hospital)
  const { users } = await session(c).json<{ users: { id: string; email: string; role: string; name: string }[] }>('GET', `/users${q.size ? `?${q}` : ''}`)
  c.out.result({ users }, () => users.map((u) => `${u.id}  ${u.role.padEnd(7)}  ${u.email}  ${u.name}`).join('\n') || 'No users.')
}

const mediaTypes: Record<string, string> = {
  '.dcm': 'application/dicom', '.dicom': 'application/dicom', '.xml': 'application/xml', '.json': 'application/json',
  '.hl7': 'x-application/hl7-v2+er7', '.pdf': 'application/pdf', '.txt': 'text/plain', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
}

/**
 * A file's natural media type, from its extension; a JSON file whose first member is a FHIR
 * `resourceType` is `application/fhir+json`. Unknown files are `application/octet-stream`.
 */
function mediaTypeOf(path: string): string {
  const ext = extname(path).toLowerCase()
  if (ext === '.json') {
    const head = Buffer.alloc(4096)
    const fd = openSync(path, 'r')
    let n: number
    try { n = readSync(fd, head, 0, head.length, 0) } finally { closeSync(fd) }
    if (/^\uFEFF?\s*\{\s*"resourceType"\s*:/.test(head.subarray(0, n).toString('utf8'))) return 'application/fhir+json'
  }
  return mediaTypes[ext] ?? 'application/octet-stream'
}

export async function recordUpload(c: Common, f: { patient?: string; file?: string; suite?: string; type?: string }): Promise<void> {
  if (!f.patient || !f.file) throw new CliError('USAGE', 'record upload needs --patient EMAIL_OR_ID --file PATH', 2)
  const path = resolve(f.file)
  let size: number
  let mediaType: string
  try {
    const st = statSync(path)
    if (!st.isFile()) throw new Error('not a file')
    size = st.size
    mediaType = f.type ?? mediaTypeOf(path)
  } catch {
    throw new CliError('MISSING_FILE', `No readable file at ${f.file}.`)
  }
  const client = session(c)
  const bar = await progressBar(size, basename(path))
  let sent = 0
  const counter = new Transform({ transform(chunk: Buffer, _e, cb) { sent += chunk.length; bar.update(sent); cb(null, chunk) } })
  const stream = createReadStream(path, { highWaterMark: 1 << 20 }).pipe(counter)
  const res = await client.request('POST', '/records', {
    headers: {
      'content-type': mediaType,
      'content-length': String(size),
      'x-medledger-patient': f.patient,
      'x-medledger-file-name': encodeURIComponent(basename(path)),
      ...(f.suite ? { 'x-medledger-suite': f.suite } : {}),
    },
    body: Readable.toWeb(stream) as unknown as BodyInit,
    duplex: 'half',
  }).finally(() => bar.end())
  const r = (await res.json()) as Record<string, unknown>
  c.out.result(r, () => `Stored ${r.fileName} (${r.size} bytes, ${r.suite}) for the patient.\n  record ${r.recordId}\n  cid    ${r.cid}\n  digest ${r.digest}\n  tx     ${r.txHash} (block ${r.blockNumber})`)
}

export async function recordGet(c: Common, id: string | undefined, f: { out?: string; token?: string }): Promise<void> {
  if (!id || !f.out) throw new CliError('USAGE', 'record get needs RECORD_ID --out PATH [--token TOKEN]', 2)
  const target = resolve(f.out)
  // A share token travels in a header, never in the URL.
  const res = f.token
    ? await createClient(c.api).request('GET', `/records/${encodeURIComponent(id)}`, { headers: { 'x-medledger-share-token': f.token } })
    : await session(c).request('GET', `/records/${encodeURIComponent(id)}`)
  const expected = res.headers.get('x-medledger-sha256')
  // Written beside the target and renamed only when complete and checked: a failure writes nothing.
  const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`)
  const hash = createHash('sha256')
  let bytes = 0
  try {
    await pipeline(Readable.fromWeb(res.body as never), new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); bytes += chunk.length; cb(null, chunk) } }), createWriteStream(partial, { mode: 0o600 }))
    const sha256 = hash.digest('hex')
    if (expected && sha256 !== expected) throw new CliError('RECORD_INTEGRITY', 'The downloaded bytes do not match the record\'s SHA-256; nothing was written.')
    const fd = openSync(partial, 'r'); fsyncSync(fd); closeSync(fd)
    renameSync(partial, target)
    c.out.result({ recordId: id, out: target, bytes, sha256 }, () => `Wrote ${bytes} bytes to ${target} (sha256 ${sha256}).`)
  } catch (err) {
    rmSync(partial, { force: true })
    throw err
  }
}

export async function recordList(c: Common, f: { patient?: string; limit?: string; offset?: string }): Promise<void> {
  const client = session(c)
  const q = new URLSearchParams()
  if (f.patient) q.set('patient', (await resolveAccount(client, f.patient)).id)
  if (f.limit) q.set('limit', f.limit)
  if (f.offset) q.set('offset', f.offset)
  const r = await client.json<{ records: { recordId: string; fileName: string; size: number; anchoredAt: string; problem?: string }[]; total: number }>('GET', `/records${q.size ? `?${q}` : ''}`)
  c.out.result(r, () => r.records.map((x) => `${x.recordId}  ${x.anchoredAt ?? ''}  ${String(x.size).padStart(10)}  ${x.problem ? `[${x.problem}]` : x.fileName}`).join('\n') + `\n${r.records.length} of ${r.total} record(s).`)
}

export async function verifyCommand(c: Common, ids: string[], f: { all?: boolean }): Promise<void> {
  if (!f.all && ids.length === 0) throw new CliError('USAGE', 'verify needs RECORD_ID… or --all', 2)
  const r = await session(c).json<{ checked: number; intact: number; mismatches: { recordId: string; problem: string; detail?: string }[] }>('POST', '/verify', f.all ? { all: true } : { recordIds: ids })
  c.out.result(r, () => [
    ...r.mismatches.map((m) => `MISMATCH ${m.recordId}: ${m.problem}${m.detail ? ` (${m.detail})` : ''}`),
    `${r.intact} of ${r.checked} record(s) intact.`,
  ].join('\n'))
  if (r.mismatches.length > 0) process.exitCode = 1
}

export async function signupCommand(c: Common, f: { role?: string; hospital?: string; email?: string; name?: string; licence?: string; 'key-scheme'?: string }): Promise<void> {
  if (!f.role || !f.hospital || !f.email || !f.name) throw new CliError('USAGE', 'signup needs --role doctor|patient --hospital ID --email E --name N [--licence L]', 2)
  const password = await readSecret(`Choose a password for ${f.email}: `)
  const r = await createClient(c.api).json<{ account: { id: string; email: string; role: string; status: string }; recoveryCode: string }>('POST', '/signup', {
    role: f.role, hospital: f.hospital, email: f.email, name: f.name, password, ...(f.licence ? { licence: f.licence } : {}), ...(f['key-scheme'] ? { keyScheme: f['key-scheme'] } : {}),
  })
  c.out.result({ ...r.account, recoveryCode: r.recoveryCode }, () =>
    `Signed up ${r.account.email} as ${r.account.role} (${r.account.status}${r.account.status === 'pending' ? ': waiting for confirmation by the hospital or the admin' : ''}).\nRecovery code (store it now, shown once): ${r.recoveryCode}`)
}

export async function doctorPending(c: Common): Promise<void> {
  const r = await session(c).json<{ doctors: { id: string; email: string; name: string; licence: string | null }[] }>('GET', '/doctors/pending')
  c.out.result(r, () => r.doctors.map((d) => `${d.id}  ${d.email}  ${d.name}  licence ${d.licence ?? '-'}`).join('\n') || 'No doctors waiting.')
}

export async function doctorDecide(c: Common, id: string | undefined, decision: 'confirm' | 'reject', f: { reason?: string }): Promise<void> {
  if (!id || (decision === 'reject' && !f.reason)) throw new CliError('USAGE', decision === 'reject' ? 'doctor reject needs ID --reason TEXT' : 'doctor confirm needs ID', 2)
  const r = await session(c).json<{ id: string; email: string; status: string }>('POST', `/doctors/${encodeURIComponent(id)}/${decision}`, decision === 'reject' ? { reason: f.reason } : undefined)
  c.out.result(r, () => `${r.email}: ${r.status}.`)
}

export async function hospitalVote(c: Common, id: string | undefined, f: { approve: boolean; reject: boolean }): Promise<void> {
  if (!id || f.approve === f.reject) throw new CliError('USAGE', 'hospital vote needs ID and one of --approve or --reject', 2)
  const r = await session(c).json<{ id: string; name: string; status: string }>('POST', `/hospitals/${encodeURIComponent(id)}/vote`, { approve: f.approve })
  c.out.result(r, () => `Voted ${f.approve ? 'to admit' : 'against'} ${r.name}: it is now ${r.status}.`)
}
