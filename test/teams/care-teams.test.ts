import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { bytesToHex, hexToBytes, type Hex } from 'viem'
import { cleanup, runCli, seed, tempDir } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { openKeystore, type Keystore } from '../../src/crypto/keystore.ts'
import { decodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import type { AccountRow } from '../../src/accounts/account.ts'
import { getRawBlockVerified } from '../../src/storage/raw-block.ts'
import { cidFromDigest } from '../../src/storage/read-verified.ts'
import { openEnvelopes, parseEnvelopes } from '../../src/records/envelopes.ts'
import { createTeamKey, openTeamKeys } from '../../src/consent/team-keys.ts'
import { settleTeamChanges } from '../../src/consent/settle-team-changes.ts'
import { readTeam } from '../../src/ledger/care-teams/read-team.ts'
import { hashSha256 } from '../../src/crypto/hashes.ts'
import { assertValidFhir } from '../fhir/validate.ts'
import { isAppError } from '../../src/errors.ts'

describe('care teams: a patient grants a team; members read while members and while the grant lives (one node in process, real chain)', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  const pw = 'doctor-password-123'
  const doctors: Record<string, { id: string; email: string; address: string; token: string }> = {}
  let staff = ''
  let teamId = '' as Hex
  const records: Record<string, string> = {}

  const mkUser = async (role: string, email: string) => {
    const r = await api.json('POST', '/users', { role, hospital: a.hospital.id, email, name: `${role} ${email.split('@')[0]}`, password: pw }, a.admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return { ...r.body.account, token: await api.login(email, pw) }
  }
  const upload = async (name: string) => {
    const r = await api.upload(a.doctor.token, a.patient.email, name, randomBytes(3000))
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body.recordId as string
  }
  const reads = async (who: string, recordId: string) => (await api.download(doctors[who]!.token, recordId)).status
  const listed = async (who: string): Promise<string[]> => {
    const r = await api.json('GET', `/records?patient=${a.patient.id}`, undefined, doctors[who]!.token)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return (r.body.records as { recordId: string; problem?: string }[]).filter((x) => !x.problem).map((x) => x.recordId)
  }
  /** What someone who kept the team key of `epoch` (here the staff member's own wrap, opened with their password) could open of a record's own envelopes. */
  const opensWithEpochKey = async (recordId: string, epoch: number): Promise<boolean> => {
    const s = node.node.services
    const row = await s.db.get<{ envelopes: Hex }>('SELECT envelopes FROM records WHERE record_id = ?', recordId)
    const env = parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row!.envelopes), 'raw')), recordId as Hex)
    const keeper = (await s.db.get<AccountRow>('SELECT * FROM accounts WHERE email = ?', 'staff-teams@example.org'))!
    const { encryptionPrivateKey } = decodeAccountSecrets((await openKeystore(JSON.parse(keeper.keystore) as Keystore, { password: pw })).payload)
    const keys = await openTeamKeys(s, { teamId, member: { id: keeper.id, address: keeper.address as Hex, scheme: keeper.key_scheme, privateKey: encryptionPrivateKey } })
    const k = keys.find((x) => x.epoch === epoch)!
    return openEnvelopes(env, { address: k.address, scheme: 'x25519-hpke', privateKey: k.privateKey }).then(() => true, (err: unknown) => {
      if (isAppError(err, 'RECORD_NOT_FOUND')) return false
      throw err
    })
  }
  const advanceChain = async (seconds: number) => {
    for (const [method, params] of [['evm_increaseTime', [seconds]], ['evm_mine', []]] as const) await node.node.services.ledger.client.request({ method, params } as never)
  }

  before(async () => {
    node = await startInProcessNode({ env: { MEDLEDGER_CHAIN_DEV_METHODS: 'true' } })
    api = new InjectApi(node.app, node.url)
    a = await seed(api)
    staff = (await mkUser('staff', 'staff-teams@example.org')).token
    for (const name of ['ward1', 'ward2', 'ward3', 'outside']) doctors[name] = await mkUser('doctor', `${name}@example.org`)
  })
  after(async () => {
    await node?.stop()
  })

  it('staff create a team and add doctors; a doctor or a patient may not, and another hospital\'s doctor is no member', async () => {
    assert.equal((await api.json('POST', '/teams', { name: 'Cardiology ward' }, doctors.ward1!.token)).status, 403)
    assert.equal((await api.json('POST', '/teams', { name: 'Cardiology ward' }, a.patient.token)).status, 403)
    const created = await api.json('POST', '/teams', { name: 'Cardiology ward' }, staff)
    assert.equal(created.status, 201, JSON.stringify(created.body))
    teamId = created.body.teamId
    assert.match(teamId, /^0x[0-9a-f]{64}$/)
    assert.equal(created.body.epoch, 1)
    for (const d of ['ward1', 'ward2']) {
      const added = await api.json('POST', `/teams/${teamId}/members`, { doctor: doctors[d]!.email }, staff)
      assert.equal(added.status, 200, JSON.stringify(added.body))
    }
    const again = await api.json('POST', `/teams/${teamId}/members`, { doctor: doctors.ward1!.email }, staff)
    assert.equal(again.body.code, 'TEAM_MEMBER_EXISTS')
    assert.equal((await api.json('POST', `/teams/${teamId}/members`, { doctor: a.patient.email }, staff)).body.code, 'UNKNOWN_ACCOUNT')
    const other = await seed(api, { hospitalName: 'North Hospital', tag: 'north' })
    assert.equal((await api.json('POST', `/teams/${teamId}/members`, { doctor: other.doctor.email }, staff)).body.code, 'UNKNOWN_ACCOUNT')
    const list = await api.json('GET', '/teams', undefined, a.patient.token)
    assert.deepEqual(list.body.teams.map((t: { teamId: string; members: unknown[]; grantExpiresAt: unknown }) => [t.teamId, t.members.length, t.grantExpiresAt]), [[teamId, 2, null]])
  })

  it('members read the patient\'s records once granted, old and new; a doctor of the same hospital outside the team cannot', async () => {
    records.before = await upload('before-grant.bin')
    assert.equal(await reads('ward1', records.before), 404, 'no grant yet')
    assert.equal((await api.json('POST', `/teams/${teamId}/grant`, { days: 7 }, doctors.ward1!.token)).status, 403, 'only the patient grants')
    const granted = await api.json('POST', `/teams/${teamId}/grant`, { days: 7 }, a.patient.token)
    assert.equal(granted.status, 201, JSON.stringify(granted.body))
    assert.equal(granted.body.epoch, 1)
    const mail = async (token: string) => (await api.json('GET', '/mail', undefined, token)).body.mail as { kind: string; subject: string; body: string }[]
    const confirmed = (await mail(a.patient.token)).filter((m) => m.kind === 'team-grant-confirmed')
    assert.equal(confirmed.length, 1, 'the patient is told of the grant')
    assert.match(confirmed[0]!.body, /You granted a care team of .+ \(hospital\) access to all \(1 record now\) of your records until \d{4}-\d\d-\d\d \d\d:\d\d UTC/)
    for (const d of ['ward1', 'ward2']) {
      const told = (await mail(doctors[d]!.token)).filter((m) => m.kind === 'team-access-granted')
      assert.equal(told.length, 1, `${d}, a member, is told`)
      assert.match(told[0]!.body, /\(patient\) granted a care team you are a member of access to all \(1 record now\) of their records until/)
    }
    assert.deepEqual((await mail(doctors.outside!.token)).filter((m) => m.kind.startsWith('team-')), [], 'no one outside the team')
    for (const who of [a.patient.token, doctors.ward1!.token]) for (const m of await mail(who)) assert.doesNotMatch(`${m.subject} ${m.body}`, /Cardiology/, 'never the team\'s name')
    records.during = await upload('after-grant.bin')
    for (const d of ['ward1', 'ward2']) for (const r of [records.before, records.during]) assert.equal(await reads(d, r!), 200, `${d} reads`)
    assert.equal(await reads('outside', records.before!), 404)
    assert.equal(await reads('outside', records.during!), 404)
    assert.deepEqual((await listed('ward1')).sort(), [records.before, records.during].sort(), 'a member lists the patient\'s records')
    assert.deepEqual(await listed('outside'), [])
    assert.equal(await opensWithEpochKey(records.during!, 1), true, 'a record added under the grant is wrapped for the team key')
    const trail = await api.json('GET', `/audit?record=${records.during}`, undefined, a.patient.token)
    assert.equal(trail.status, 200, JSON.stringify(trail.body))
    const teamReads = (trail.body.entries as { event: string; purpose: string | null; ref: string | null; actor: { address: string } }[])
      .filter((e) => e.event === 'AccessLogged' && e.purpose === 'team' && e.ref === teamId)
    const mine = await api.json('GET', `/audit?patient=${a.patient.id}`, undefined, a.patient.token)
    assert.equal(mine.status, 200, JSON.stringify(mine.body))
    assert.ok((mine.body.entries as { event: string; actor: { address: string } }[]).some((e) => e.event === 'TeamAccessGranted' && e.actor.address === a.patient.address.toLowerCase()),
      'the grant is in the patient\'s trail, sent from the patient\'s key')
    assert.deepEqual(teamReads.map((e) => e.actor.address).sort(), [doctors.ward1!.address, doctors.ward2!.address].map((x) => x.toLowerCase()).sort(), 'each member\'s read is in the trail, purpose team, under the team')
  })

  it('adding a member wraps the team key for the doctor only: no record is re-wrapped, and the new member reads', async () => {
    const envelopesBefore = await node.node.services.db.all<{ record_id: string; envelopes: string }>('SELECT record_id, envelopes FROM records ORDER BY record_id')
    const added = await api.json('POST', `/teams/${teamId}/members`, { doctor: doctors.ward3!.id }, staff)
    assert.equal(added.status, 200, JSON.stringify(added.body))
    assert.deepEqual(await node.node.services.db.all('SELECT record_id, envelopes FROM records ORDER BY record_id'), envelopesBefore)
    const wraps = await node.node.services.db.all('SELECT epoch FROM team_key_wraps WHERE team_id = ? AND account_id = ?', teamId, doctors.ward3!.id)
    assert.equal(wraps.length, 1, 'one wrap per team key epoch')
    assert.equal(await reads('ward3', records.before!), 200)
  })

  it('a removed member loses access at once, and records added after the removal are wrapped for the new team key only', async () => {
    const removed = await api.json('DELETE', `/teams/${teamId}/members/${doctors.ward2!.id}`, undefined, staff)
    assert.equal(removed.status, 200, JSON.stringify(removed.body))
    assert.equal(removed.body.epoch, 2)
    assert.equal((await api.json('DELETE', `/teams/${teamId}/members/${doctors.ward2!.id}`, undefined, staff)).body.code, 'NOT_TEAM_MEMBER')
    records.after = await upload('after-removal.bin')
    assert.equal(await reads('ward2', records.after), 404, 'the record added after the removal')
    assert.equal(await reads('ward2', records.before!), 404, 'the chain says: no longer a member')
    assert.deepEqual(await listed('ward2'), [], 'nor listed')
    assert.equal(await opensWithEpochKey(records.after, 1), false, 'the key the removed member held opens no record added after the removal')
    assert.equal(await opensWithEpochKey(records.after, 2), true)
    for (const epoch of [1, 2]) {
      const k = await node.node.services.db.get<{ public_key: Buffer }>('SELECT public_key FROM team_keys WHERE team_id = ? AND epoch = ?', teamId, epoch)
      const digest = epoch === 2 ? (await readTeam(node.node.services.ledger, { teamId })).keyDigest : bytesToHex(hashSha256(new Uint8Array(k!.public_key)))
      const published = await getRawBlockVerified(node.node.services.ipfs.blockstore, cidFromDigest(hexToBytes(digest), 'raw'))
      assert.deepEqual(Buffer.from(published), k!.public_key, `epoch ${epoch}'s public key is an IPFS raw block under its digest`)
    }
    for (const d of ['ward1', 'ward3']) for (const r of [records.before, records.during, records.after]) assert.equal(await reads(d, r!), 200, `${d} still reads`)
  })

  it('the CLI: team create (JSON with teamId), team add, team list, grant --team, grant revoke, team remove', async () => {
    const cliHome = tempDir('ml-cli-teams-')
    try {
      const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
      const ok = (r: { code: number | null; stdout: string; stderr: string }) => {
        assert.equal(r.code, 0, r.stderr)
        return JSON.parse(r.stdout)
      }
      ok(await cli(['login', '--email', 'staff-teams@example.org', '--json'], `${pw}\n`))
      const created = ok(await cli(['team', 'create', '--name', 'Night shift']))
      assert.match(created.teamId, /^0x[0-9a-f]{64}$/)
      const added = ok(await cli(['team', 'add', created.teamId, '--doctor', doctors.ward1!.email, '--json']))
      assert.deepEqual(added.members.map((m: { id: string }) => m.id), [doctors.ward1!.id])
      assert.equal((await cli(['team', 'add', created.teamId])).code, 2, 'usage: --doctor is needed')
      ok(await cli(['login', '--email', a.patient.email, '--json'], `${a.patient.password}\n`))
      const granted = ok(await cli(['grant', '--team', created.teamId, '--days', '2', '--json', '--as', a.patient.email]))
      assert.equal(granted.teamId, created.teamId)
      const listed = ok(await cli(['team', 'list', '--json', '--as', a.patient.email]))
      assert.ok(listed.teams.find((t: { teamId: string; grantExpiresAt: string | null }) => t.teamId === created.teamId)?.grantExpiresAt)
      ok(await cli(['grant', 'revoke', '--team', created.teamId, '--json', '--as', a.patient.email]))
      const revokedMail = (await api.json('GET', '/mail', undefined, doctors.ward1!.token)).body.mail as { kind: string; body: string }[]
      assert.equal(revokedMail.filter((m) => m.kind === 'team-access-revoked').length, 1, 'the member is told of the revocation')
      const again = await cli(['grant', 'revoke', '--team', created.teamId, '--as', a.patient.email])
      assert.notEqual(again.code, 0)
      assert.match(again.stderr, /GRANT_NOT_ACTIVE/)
      const removed = ok(await cli(['team', 'remove', created.teamId, '--doctor', doctors.ward1!.id, '--json', '--as', 'staff-teams@example.org']))
      assert.deepEqual([removed.members, removed.epoch], [[], 2])
    } finally {
      cleanup(cliHome)
    }
  })

  const teamOnChain = async (id: Hex) => {
    const s = node.node.services
    const t = await readTeam(s.ledger, { teamId: id })
    const k = await s.db.get<{ public_key: Buffer }>('SELECT public_key FROM team_keys WHERE team_id = ? AND epoch = ?', id, t.epoch)
    return { epoch: t.epoch, keyMatches: k !== undefined && t.keyDigest === bytesToHex(hashSha256(new Uint8Array(k.public_key))) }
  }
  const newTeam = async (name: string, members: string[]) => {
    const t = await api.json('POST', '/teams', { name }, staff)
    assert.equal(t.status, 201, JSON.stringify(t.body))
    for (const d of members) assert.equal((await api.json('POST', `/teams/${t.body.teamId}/members`, { doctor: doctors[d]!.id }, staff)).status, 200)
    return t.body.teamId as Hex
  }
  const wrapEpochs = async (id: Hex, who: string) => (await node.node.services.db.all<{ epoch: number }>('SELECT epoch FROM team_key_wraps WHERE team_id = ? AND account_id = ? ORDER BY epoch', id, doctors[who]!.id)).map((w) => Number(w.epoch))

  it('removals from one team at the same moment: each answers 200 or 409, none 500, and the key epoch ends where the chain is', async () => {
    const id = await newTeam('Concurrent removals', ['ward1', 'ward2', 'ward3'])
    const del = (who: string) => api.json('DELETE', `/teams/${id}/members/${doctors[who]!.id}`, undefined, staff)
    const [one, two, twoAgain] = await Promise.all([del('ward1'), del('ward2'), del('ward2')])
    assert.equal(one.status, 200, JSON.stringify(one.body))
    assert.deepEqual([two.status, twoAgain.status].sort(), [200, 409], JSON.stringify([two.body, twoAgain.body]))
    assert.equal([two, twoAgain].find((r) => r.status === 409)!.body.code, 'NOT_TEAM_MEMBER')
    const team = (await api.json('GET', '/teams', undefined, staff)).body.teams.find((t: { teamId: string }) => t.teamId === id)
    assert.deepEqual([team.epoch, team.members.map((m: { id: string }) => m.id)], [3, [doctors.ward3!.id]])
    assert.deepEqual(await teamOnChain(id), { epoch: 3, keyMatches: true }, 'two removals on chain, and this node holds the key the chain names')
    assert.deepEqual(await wrapEpochs(id, 'ward3'), [1, 2, 3], 'the remaining member holds every epoch\'s key')
    assert.deepEqual([await wrapEpochs(id, 'ward1'), await wrapEpochs(id, 'ward2')], [[], []])
  })

  it('a removal another process holds the next key epoch for answers 409 TEAM_BUSY and changes nothing; at start an epoch never mined is dropped', async () => {
    const s = node.node.services
    const id = await newTeam('Busy team', ['ward1', 'ward3'])
    // Another process removing ward1 holds epoch 2: its key, wrapped for the others.
    await createTeamKey(s, { teamId: id, epoch: 2, except: [doctors.ward1!.id] })
    const busy = await api.json('DELETE', `/teams/${id}/members/${doctors.ward1!.id}`, undefined, staff)
    assert.deepEqual([busy.status, busy.body.code], [409, 'TEAM_BUSY'])
    assert.deepEqual(await teamOnChain(id), { epoch: 1, keyMatches: true })
    assert.deepEqual(await wrapEpochs(id, 'ward1'), [1], 'still a member, with the key it had')
    assert.deepEqual(await settleTeamChanges(s), { created: 0, dropped: 0, removed: 0, discarded: 1, added: 0, unadded: 0 })
    assert.equal((await api.json('DELETE', `/teams/${id}/members/${doctors.ward1!.id}`, undefined, staff)).status, 200)
    assert.deepEqual(await teamOnChain(id), { epoch: 2, keyMatches: true })
  })

  it('changes cut off by a crash are settled at start by the chain: a mined creation completed, one never sent dropped, a mined removal recorded', async () => {
    const s = node.node.services
    // What a crash right after the creation was mined leaves: the row still 'creating'.
    const mined = await newTeam('Cut-off creation', [])
    const tx = await s.db.get<{ tx_hash: string }>('SELECT tx_hash FROM teams WHERE id = ?', mined)
    await s.db.run(`UPDATE teams SET state = 'creating', tx_hash = NULL WHERE id = ?`, mined)
    const listedIds = async () => (await api.json('GET', '/teams', undefined, staff)).body.teams.map((t: { teamId: string }) => t.teamId) as string[]
    assert.ok(!(await listedIds()).includes(mined), 'a team still being created is not listed')
    assert.equal((await api.json('POST', `/teams/${mined}/grant`, { days: 1 }, a.patient.token)).body.code, 'UNKNOWN_TEAM')
    // And a crash before its transaction left the node: row and key, no team on chain.
    const never = `0x${randomBytes(32).toString('hex')}` as Hex
    await s.db.run(`INSERT INTO teams (id, hospital_id, name, epoch, created_by, tx_hash, created_at, state) VALUES (?, ?, 'Never sent', 1, ?, NULL, ?, 'creating')`, never, a.hospital.id, doctors.ward1!.id, Date.now())
    await createTeamKey(s, { teamId: never, epoch: 1 })
    // And a crash after a removal was mined, before the node recorded it.
    const cut = await newTeam('Cut-off removal', ['ward1', 'ward3'])
    assert.equal((await api.json('DELETE', `/teams/${cut}/members/${doctors.ward1!.id}`, undefined, staff)).status, 200)
    await s.db.run('UPDATE teams SET epoch = 1 WHERE id = ?', cut)
    await s.db.run('UPDATE team_members SET removed_at = NULL WHERE team_id = ?', cut)
    // The new key was wrapped for the remaining member and the keepers before its transaction (and
    // never for the member removed): those wraps are what the crash leaves.
    // And members added pending (row and key wraps before the transaction): one the chain holds
    // (the flow stopped before settling it), one whose transaction never left (the chain lacks it).
    const adds = await newTeam('Cut-off additions', ['ward2'])
    await s.db.run('UPDATE team_members SET removed_at = 0 WHERE team_id = ?', adds)
    await s.db.run('INSERT INTO team_members (team_id, account_id, added_at, removed_at) VALUES (?, ?, ?, 0)', adds, doctors.ward1!.id, Date.now())
    await s.db.run(`INSERT INTO team_key_wraps (team_id, epoch, account_id, wrapped) SELECT team_id, epoch, ?, wrapped FROM team_key_wraps WHERE team_id = ? AND account_id = ?`, doctors.ward1!.id, adds, doctors.ward2!.id)
    const addsMembers = async () => (await api.json('GET', '/teams', undefined, staff)).body.teams.find((t: { teamId: string }) => t.teamId === adds).members.map((m: { id: string }) => m.id)
    assert.deepEqual(await addsMembers(), [], 'a pending member is no member')

    assert.deepEqual(await settleTeamChanges(s), { created: 1, dropped: 1, removed: 1, discarded: 0, added: 1, unadded: 1 })
    assert.deepEqual(await addsMembers(), [doctors.ward2!.id], 'the member the chain holds is in; the one it lacks is out')
    assert.deepEqual([await wrapEpochs(adds, 'ward2'), await wrapEpochs(adds, 'ward1')], [[1], []])
    assert.ok((await listedIds()).includes(mined))
    assert.equal((await s.db.get<{ tx_hash: string }>('SELECT tx_hash FROM teams WHERE id = ?', mined))!.tx_hash, tx!.tx_hash, 'its transaction found in the journal')
    assert.deepEqual([await s.db.get('SELECT 1 FROM teams WHERE id = ?', never), await s.db.get('SELECT 1 FROM team_keys WHERE team_id = ?', never), await s.db.get('SELECT 1 FROM team_key_wraps WHERE team_id = ?', never)], [undefined, undefined, undefined])
    const team = (await api.json('GET', '/teams', undefined, staff)).body.teams.find((t: { teamId: string }) => t.teamId === cut)
    assert.deepEqual([team.epoch, team.members.map((m: { id: string }) => m.id)], [2, [doctors.ward3!.id]], 'the member the chain no longer has is out')
    assert.deepEqual([await wrapEpochs(cut, 'ward3'), await wrapEpochs(cut, 'ward1')], [[1, 2], []])
    assert.deepEqual(await settleTeamChanges(s), { created: 0, dropped: 0, removed: 0, discarded: 0, added: 0, unadded: 0 }, 'nothing left to settle')
  })

  it('the patient sees each team grant as a FHIR Consent (actor the CareTeam), valid R4; a PUT with status inactive ends one', async () => {
    type Consent = { id: string; status: string; provision: { actor: { reference: { reference: string; display: string } }[]; period: { end: string } } }
    const fhir = async (method: 'GET' | 'PUT', url: string, token: string, payload?: object) => node.app.inject({
      method, url: `/fhir/R4${url}`, payload: payload as never,
      headers: { accept: 'application/fhir+json', authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/fhir+json' } : {}) },
    })
    const teamConsents = async (token: string) => {
      const bundle = (await fhir('GET', '/Consent?_count=1000', token)).json()
      assertValidFhir(bundle, 'Consent search')
      return ((bundle.entry ?? []) as { resource: Consent }[]).map((e) => e.resource).filter((c) => c.id.startsWith('team-'))
    }
    const mine = await teamConsents(a.patient.token)
    const live = mine.find((c) => c.provision.actor[0]!.reference.reference === `CareTeam/${teamId.slice(2)}`)
    assert.ok(live, JSON.stringify(mine))
    assert.deepEqual([live.status, live.provision.actor[0]!.reference.display], ['active', 'Cardiology ward'])
    const teams = (await api.json('GET', '/teams', undefined, a.patient.token)).body.teams as { teamId: string; grantExpiresAt: string | null }[]
    assert.equal(Date.parse(live.provision.period.end), Date.parse(teams.find((t) => t.teamId === teamId)!.grantExpiresAt!), 'the period ends when the chain\'s grant does')
    assert.deepEqual(mine.filter((c) => c !== live).map((c) => c.status), ['inactive'], 'the grant revoked from the CLI')
    const one = await fhir('GET', `/Consent/${live.id}`, a.patient.token)
    assert.equal(one.statusCode, 200, one.body)
    assert.deepEqual(await teamConsents(doctors.ward1!.token), [], 'the patient\'s directives: not a member\'s')

    const other = await newTeam('Ended by FHIR', ['ward3'])
    assert.equal((await api.json('POST', `/teams/${other}/grant`, { days: 2 }, a.patient.token)).status, 201)
    const c = (await teamConsents(a.patient.token)).find((x) => x.provision.actor[0]!.reference.reference === `CareTeam/${other.slice(2)}`)!
    assert.equal((await fhir('PUT', `/Consent/${c.id}`, doctors.ward3!.token, { ...c, status: 'inactive' })).statusCode, 404, 'only the patient')
    const ended = await fhir('PUT', `/Consent/${c.id}`, a.patient.token, { ...c, status: 'inactive' })
    assert.equal(ended.statusCode, 200, ended.body)
    assertValidFhir(ended.json(), 'updated Consent')
    assert.equal(ended.json().status, 'inactive')
    assert.equal((await api.json('GET', '/teams', undefined, a.patient.token)).body.teams.find((t: { teamId: string }) => t.teamId === other).grantExpiresAt, null)
  })

  it('once the grant ends (chain time), no member reads any record', async () => {
    await advanceChain(8 * 86_400)
    for (const d of ['ward1', 'ward3']) for (const r of [records.before, records.during, records.after]) assert.equal(await reads(d, r!), 404, `${d} after the grant`)
    assert.deepEqual(await listed('ward1'), [], 'nor listed')
    assert.equal(await reads('outside', records.after!), 404)
  })
})
