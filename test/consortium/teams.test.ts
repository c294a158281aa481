// Care teams across nodes (issue 13 item 5): two hospital nodes as separate processes on one real
// anvil chain, peered over libp2p. B's admin makes a care team of B's doctors; A's follower mirrors
// it from the CareTeams events (id, hospital, epoch, members' addresses; no name), each epoch's
// public key fetched from IPFS by the digest on chain and checked. A's patient grants the team;
// B's follower keeps the grant, and both members read on B. B removes one: A mirrors the new epoch,
// a record uploaded on A afterwards is wrapped for the new epoch's key only, the remaining member
// reads it and the removed one reads nothing. The patient revokes: nobody reads. Runs once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Address } from 'viem'
import { startConsortium, waitFor, type Consortium } from '../helpers/consortium.ts'

let con: Consortium
let apis: Consortium['apis']
let adminOf: Consortium['adminOf']
let homes: Consortium['homes']
const doctors: { id: string; address: Address; email: string; token: string }[] = []
let founding: Consortium['founding']
let hospitalB = ''
let teamId = ''
const records: string[] = []

const status = (k: string) => con.status(k)
/** A node's database, read while it runs (WAL: a reader sees what is committed). */
function query<T>(k: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(homes[k]!, 'medledger.db'), { readonly: true, fileMustExist: true })
  try { return db.prepare(sql).all(...params) as T[] } finally { db.close() }
}
const sha256 = (b: Buffer) => `0x${createHash('sha256').update(b).digest('hex')}`
const upload = async (name: string): Promise<string> => {
  const r = await apis.a!.upload(founding.doctor.token, founding.patient.email, name, Buffer.from(`record ${name} of A's patient`))
  assert.equal(r.status, 201, JSON.stringify(r.body))
  records.push(r.body.recordId as string)
  return r.body.recordId as string
}
const mail = async (n: number, kind: string) => ((await apis.b!.json('GET', '/mail', undefined, doctors[n]!.token)).body.mail as { kind: string; body: string }[]).filter((m) => m.kind === kind)
const reads = async (n: number, recordId: string) => (await apis.b!.download(doctors[n]!.token, recordId)).status

before(async () => {
  con = await startConsortium(2, { prefix: 'ml-tm-' })
  ;({ apis, adminOf, homes, founding } = con)
  hospitalB = (await status('b')).hospitalAddress.toLowerCase()
  for (const n of [1, 2]) {
    const d = await con.makeUser('b', 'doctor', `team-doctor-${n}@example.org`, `Dr B${n}`)
    doctors.push({ id: d.id, address: d.address.toLowerCase() as Address, email: d.email, token: d.token })
  }
})

after(async () => {
  await con?.stop()
})

test('A mirrors a team of B with its members and its checked public key; no name; B keeps its own team only as its own', async () => {
  // The admin acts for B as staff once B is admitted (registered from the hospital's key): retried until then.
  const created = await waitFor('a team on B', async () => {
    const r = await apis.b!.json('POST', '/teams', { name: 'Oncology ward B' }, adminOf.b)
    return r.status === 201 ? r : undefined
  })
  teamId = (created.body.teamId as string).toLowerCase()
  for (const d of doctors) assert.equal((await apis.b!.json('POST', `/teams/${teamId}/members`, { doctor: d.email }, adminOf.b)).status, 200)

  const keyOnB = query<{ public_key: Buffer }>('b', 'SELECT public_key FROM team_keys WHERE team_id = ? AND epoch = 1', teamId)[0]!.public_key
  const mirrored = await waitFor('the team on A', () => {
    const members = query('a', 'SELECT 1 FROM remote_team_members WHERE team_id = ? AND removed_at IS NULL', teamId)
    return members.length === 2 ? query<{ hospital: string; epoch: number; key_digest: string; public_key: Buffer }>('a', 'SELECT * FROM remote_teams WHERE id = ?', teamId)[0] : undefined
  }, 150_000) // a key block not served within the follower's 2 s is retried from quarantine with back-off
  assert.equal(mirrored.hospital, hospitalB)
  assert.equal(mirrored.epoch, 1)
  assert.ok(Buffer.from(mirrored.public_key).equals(keyOnB), 'the public key B made for epoch 1')
  assert.equal(mirrored.key_digest, sha256(keyOnB))
  assert.deepEqual(query<{ address: string }>('a', 'SELECT address FROM remote_team_members WHERE team_id = ? ORDER BY address', teamId).map((m) => m.address), doctors.map((d) => d.address).sort())
  // No name on A (nor on chain), and A holds no local team for it; B mirrors nothing of its own.
  assert.equal(JSON.stringify(query('a', 'SELECT * FROM remote_teams')).includes('Oncology'), false)
  assert.equal(query('a', 'SELECT 1 FROM teams WHERE id = ?', teamId).length, 0)
  assert.equal(query('b', 'SELECT 1 FROM remote_teams').length, 0)
  // A's patient sees it among the teams they may grant: by id and hospital, no members listed.
  const listed = await apis.a!.json('GET', '/teams', undefined, founding.patient.token)
  assert.equal(listed.status, 200, JSON.stringify(listed.body))
  const shown = (listed.body.teams as { teamId: string; name: string; remote?: boolean; members: unknown[]; grantExpiresAt: string | null }[]).find((t) => t.teamId === teamId)
  assert.deepEqual(shown && { remote: shown.remote, name: shown.name, members: shown.members, grantExpiresAt: shown.grantExpiresAt }, { remote: true, name: 'Care team of Hospital B', members: [], grantExpiresAt: null })
  // A doctor of A does not: only patients choose teams to grant.
  assert.equal(((await apis.a!.json('GET', '/teams', undefined, founding.doctor.token)).body.teams as { teamId: string }[]).some((t) => t.teamId === teamId), false)
})

test('A\'s patient grants B\'s team; B keeps the grant and both members read on B, logged with purpose team', async () => {
  const first = await upload('first')
  // Before the grant a member reads nothing (once B holds the record's row).
  await waitFor('the record known on B', () => query('b', 'SELECT 1 FROM records WHERE record_id = ?', first).length > 0)
  assert.equal(await reads(1, first), 404)
  const granted = await apis.a!.json('POST', `/teams/${teamId}/grant`, { days: 7 }, founding.patient.token)
  assert.equal(granted.status, 201, JSON.stringify(granted.body))
  assert.equal(granted.body.epoch, 1)
  const kept = await waitFor('the grant on B', () => query<{ envelopes: string; revoked_at: number | null }>('b', 'SELECT envelopes, revoked_at FROM team_grants WHERE team_id = ?', teamId)[0])
  assert.equal(kept.envelopes, granted.body.envelopes)
  assert.equal(kept.revoked_at, null)
  // Each member is told on B, by the patient's pseudonym (no name crosses), with the count and expiry.
  for (const n of [0, 1]) {
    const told = await mail(n, 'team-access-granted')
    assert.equal(told.length, 1, `member ${n} is told once`)
    assert.match(told[0]!.body, /1 record now/)
    assert.equal(told[0]!.body.includes('patient a'), false)
  }
  const mine = (await apis.a!.json('GET', '/teams', undefined, founding.patient.token)).body.teams as { teamId: string; grantExpiresAt: string | null }[]
  assert.equal(mine.find((t) => t.teamId === teamId)?.grantExpiresAt, granted.body.expiresAt)
  for (const n of [0, 1]) assert.equal(await waitFor(`member ${n} reads`, async () => { const st = await reads(n, first); return st === 200 ? st : undefined }), 200)
  // Each member's read is in the patient's trail on A: purpose team, under the team id (B's audit batch, mined).
  await waitFor('both reads in the trail on A', async () => {
    const trail = await apis.a!.json('GET', `/audit?record=${first}`, undefined, founding.patient.token)
    const team = (trail.body.entries as { event: string; purpose: string | null; ref: string | null; actor: { address: string } }[])
      .filter((e) => e.event === 'AccessLogged' && e.purpose === 'team' && e.ref === teamId).map((e) => e.actor.address).sort()
    return JSON.stringify(team) === JSON.stringify(doctors.map((d) => d.address).sort()) || undefined
  })
  // A doctor of B who is no member reads nothing.
  const other = await apis.b!.json('POST', '/users', { role: 'doctor', email: 'not-in-team@example.org', name: 'Dr Other', password: 'doctor-password-123' }, adminOf.b)
  assert.equal(other.status, 201, JSON.stringify(other.body))
  assert.equal((await apis.b!.download(await apis.b!.login('not-in-team@example.org', 'doctor-password-123'), first)).status, 404)
})

test('a removal on B moves A\'s mirror to the new epoch\'s key and marks the member removed', async () => {
  const removed = await apis.b!.json('DELETE', `/teams/${teamId}/members/${doctors[0]!.id}`, undefined, adminOf.b)
  assert.equal(removed.status, 200, JSON.stringify(removed.body))
  const keyOnB = query<{ public_key: Buffer }>('b', 'SELECT public_key FROM team_keys WHERE team_id = ? AND epoch = 2', teamId)[0]!.public_key
  const mirrored = await waitFor('epoch 2 on A', () => {
    const t = query<{ epoch: number; key_digest: string; public_key: Buffer }>('a', 'SELECT * FROM remote_teams WHERE id = ?', teamId)[0]
    return t?.epoch === 2 ? t : undefined
  }, 150_000)
  assert.ok(Buffer.from(mirrored.public_key).equals(keyOnB), 'the public key B made for epoch 2')
  assert.equal(mirrored.key_digest, sha256(keyOnB))
  const members = query<{ address: string; removed_at: number | null }>('a', 'SELECT address, removed_at FROM remote_team_members WHERE team_id = ?', teamId)
  assert.notEqual(members.find((m) => m.address === doctors[0]!.address)?.removed_at, null)
  assert.equal(members.find((m) => m.address === doctors[1]!.address)?.removed_at, null)
  // Nothing of it was quarantined on A.
  assert.equal(query('a', `SELECT 1 FROM quarantined_events WHERE contract = 'CareTeams'`).length, 0)
  // A record uploaded on A now is wrapped for the team key the chain holds (A checks its mirror
  // against CareTeams' epoch and digest at upload): the remaining member reads it and the first
  // record; the removed member reads neither.
  const later = await upload('after-removal')
  assert.equal(await waitFor('the remaining member reads the new record', async () => { const st = await reads(1, later); return st === 200 ? st : undefined }), 200)
  assert.equal(await reads(1, records[0]!), 200)
  assert.equal(await reads(0, later), 404)
  assert.equal(await reads(0, records[0]!), 404)
})

test('the patient revokes on A: B marks the grant revoked, and nobody reads', async () => {
  const revoked = await apis.a!.json('DELETE', `/teams/${teamId}/grant`, undefined, founding.patient.token)
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body))
  await waitFor('the revocation on B', () => query<{ revoked_at: number | null }>('b', 'SELECT revoked_at FROM team_grants WHERE team_id = ?', teamId)[0]?.revoked_at !== null)
  for (const r of records) for (const n of [0, 1]) assert.equal(await reads(n, r), 404)
  // The remaining member is told of the revocation; the removed one is no member, so is not.
  assert.equal((await waitFor('the revocation mail', async () => { const m = await mail(1, 'team-access-revoked'); return m.length > 0 ? m : undefined })).length, 1)
  assert.equal((await mail(0, 'team-access-revoked')).length, 0)
  assert.equal(query('b', 'SELECT 1 FROM quarantined_events').length, 0)
})

test('a node that followed the chain before it followed CareTeams mirrors the teams made meanwhile once it restarts', async () => {
  // A as a node from before this version left it: no mirror, no CareTeams position, its follower past those blocks.
  await con.nodes.a!.stop()
  const db = new Database(join(homes.a!, 'medledger.db'))
  try {
    db.prepare('DELETE FROM remote_teams').run()
    db.prepare('DELETE FROM remote_team_members').run()
    db.prepare(`DELETE FROM meta WHERE key = 'follow.careTeams'`).run()
    assert.ok(Number((db.prepare(`SELECT value FROM meta WHERE key = 'follow.block'`).get() as { value: string }).value) > 0)
  } finally { db.close() }
  await con.start('a')
  const keyOnB = query<{ public_key: Buffer }>('b', 'SELECT public_key FROM team_keys WHERE team_id = ? AND epoch = 2', teamId)[0]!.public_key
  const mirrored = await waitFor('the team mirrored again at epoch 2', () => {
    const t = query<{ epoch: number; public_key: Buffer }>('a', 'SELECT * FROM remote_teams WHERE id = ?', teamId)[0]
    return t?.epoch === 2 ? t : undefined
  }, 90_000)
  assert.ok(Buffer.from(mirrored.public_key).equals(keyOnB))
  assert.deepEqual(query<{ address: string; removed: number }>('a', 'SELECT address, CASE WHEN removed_at IS NULL THEN 0 ELSE 1 END AS removed FROM remote_team_members WHERE team_id = ? ORDER BY address', teamId),
    doctors.map((d) => ({ address: d.address, removed: d === doctors[0] ? 1 : 0 })).sort((x, y) => x.address.localeCompare(y.address)))
})
