// Care-team key custody (issue 13: a stolen node key opens no record it is not otherwise entitled
// to). One node, one anvil, three member hospitals (the two others registered on chain with keys
// this test holds, as in threshold-break-glass.test.ts) and emergency shares 2 of 3, so the home
// hospital's emergency key, which the node key opens, holds one share only. A team of the home
// hospital is granted by a patient and loses a member; then an attacker with the node key and a
// copy of every row of the database tries every key the node key opens on every team-key wrap,
// on the team's grant block and on the records' envelopes, and opens nothing. A member's own key
// opens the same things the same way (the attempts can succeed).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { generateEncryptionKeyPair, keySchemeId } from '../../src/crypto/key-wrap.ts'
import { hashSha256 } from '../../src/crypto/hashes.ts'
import { openKeystore, type Keystore } from '../../src/crypto/keystore.ts'
import { decodeAccountSecrets } from '../../src/accounts/account-secrets.ts'
import type { AccountRow } from '../../src/accounts/account.ts'
import { openWithNodeKey, sealWithNodeKey } from '../../src/accounts/node-key.ts'
import { unlockHospital, unlockHospitalEncryptionKey } from '../../src/accounts/hospital-keys.ts'
import { putRawBlock, getRawBlockVerified } from '../../src/storage/raw-block.ts'
import { cidFromDigest } from '../../src/storage/read-verified.ts'
import { sendHospitalProposal } from '../../src/ledger/registry/send-hospital-proposal.ts'
import { sendHospitalVote } from '../../src/ledger/registry/send-hospital-vote.ts'
import { readTeamMember } from '../../src/ledger/care-teams/read-team-member.ts'
import { openEnvelopes, openManifest, parseEnvelopes } from '../../src/records/envelopes.ts'
import { combineShares, openShare } from '../../src/records/emergency-shares.ts'
import { openGrantEnvelope } from '../../src/consent/grant-envelopes.ts'
import { openTeamKeys, teamKeyAddress } from '../../src/consent/team-keys.ts'
import { unsealTeamKeys } from '../../src/consent/unseal-team-keys.ts'
import { isAppError } from '../../src/errors.ts'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import type { Services } from '../../src/services.ts'

describe('care-team keys: held by the members, the hospital\'s staff and the admin, never under the node key', () => {
  let n: InProcessNode
  let s: Services
  let api: InjectApi
  let world: Awaited<ReturnType<typeof seed>>
  const pw = 'doctor-password-123'
  const people: Record<string, { id: string; email: string; address: Address; token: string }> = {}
  let adminId = ''
  let teamId = '' as Hex
  const recs: Record<string, Hex> = {}

  const mkUser = async (role: string, email: string) => {
    const r = await api.json('POST', '/users', { role, hospital: world.hospital.id, email, name: `${role} ${email.split('@')[0]}`, password: pw }, world.admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return { ...r.body.account, token: await api.login(email, pw) }
  }
  const upload = async (name: string) => {
    const r = await api.upload(world.doctor.token, world.patient.id, name, new TextEncoder().encode(`${name}: troponin 0.02 ng/mL`))
    assert.equal(r.status, 201, JSON.stringify(r.body))
    return r.body.recordId as Hex
  }
  const envelopesOf = async (recordId: Hex) => {
    const row = await s.db.get<{ envelopes: Hex }>('SELECT envelopes FROM records WHERE record_id = ?', recordId)
    return parseEnvelopes(await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(row!.envelopes), 'raw')), recordId)
  }
  /** An account's own keys, as its password opens its keystore. */
  const ownKeys = async (who: string) => {
    const row = (await s.db.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', people[who]!.id))!
    const { encryptionPrivateKey } = decodeAccountSecrets((await openKeystore(JSON.parse(row.keystore) as Keystore, { password: pw })).payload)
    return { id: row.id, address: row.address as Address, scheme: row.key_scheme, privateKey: encryptionPrivateKey }
  }
  const wrapHolders = async (epoch: number) =>
    (await s.db.all<{ account_id: string }>('SELECT account_id FROM team_key_wraps WHERE team_id = ? AND epoch = ? ORDER BY account_id', teamId, epoch)).map((w) => w.account_id)
  const ids = (...who: string[]) => who.map((w) => w === 'admin' ? adminId : people[w]!.id).sort()

  before(async () => {
    n = await startInProcessNode()
    s = n.node.services
    api = new InjectApi(n.app, n.url)
    world = await seed(api, { hospitalName: 'H1', tag: 'h1' })
    adminId = (await s.db.get<{ id: string }>(`SELECT id FROM accounts WHERE role = 'admin'`))!.id
    // Two more member hospitals, so a record's emergency key is split 2 of 3 and the home's
    // emergency key (which the node key opens) holds one share only.
    const homeLedger = (await unlockHospital(s, world.hospital.id)).keys.ledger
    const voters = [homeLedger]
    for (let i = 0; i < 2; i++) {
      const keys = await generateEncryptionKeyPair('x25519-hpke')
      await putRawBlock(s.ipfs, keys.publicKey)
      const ledger = privateKeyToAccount(generatePrivateKey())
      await sendHospitalProposal(s.ledger, { by: homeLedger, hospital: ledger.address, keyScheme: keySchemeId('x25519-hpke'), emergencyKey: bytesToHex(hashSha256(keys.publicKey)) })
      for (const voter of voters.slice(0, Math.floor(voters.length / 2) + 1)) await sendHospitalVote(s.ledger, { voter, candidate: ledger.address, approve: true })
      voters.push(ledger)
    }
    const set = await api.json('PUT', '/emergencies/threshold', { shares: 3, threshold: 2 }, world.admin)
    assert.equal(set.status, 200, JSON.stringify(set.body))

    people.staff = await mkUser('staff', 'staff-custody@example.org')
    for (const d of ['ward1', 'ward2', 'ward3']) people[d] = await mkUser('doctor', `${d}-custody@example.org`)
    const team = await api.json('POST', '/teams', { name: 'Stroke unit' }, people.staff.token)
    assert.equal(team.status, 201, JSON.stringify(team.body))
    teamId = team.body.teamId
    for (const d of ['ward1', 'ward2']) assert.equal((await api.json('POST', `/teams/${teamId}/members`, { doctor: people[d]!.id }, people.staff.token)).status, 200)
    recs.before = await upload('before-grant.txt')
    assert.equal((await api.json('POST', `/teams/${teamId}/grant`, { days: 7 }, world.patient.token)).status, 201)
    recs.during = await upload('during-grant.txt')
    assert.equal((await api.json('DELETE', `/teams/${teamId}/members/${people.ward2!.id}`, undefined, people.staff.token)).status, 200)
    recs.after = await upload('after-removal.txt')
  })
  after(async () => { await n?.stop() })

  test('no team key is sealed under the node key; each epoch\'s is wrapped for the current members, the hospital\'s staff and the admin', async () => {
    assert.deepEqual(await s.db.all('SELECT epoch FROM team_keys WHERE team_id = ? AND sealed_private_key IS NOT NULL', teamId), [])
    assert.deepEqual(await wrapHolders(1), ids('ward1', 'staff', 'admin'), 'the removed member\'s wrap is gone')
    assert.deepEqual(await wrapHolders(2), ids('ward1', 'staff', 'admin'), 'the new key never reached the removed member')
    for (const r of Object.values(recs)) assert.equal((await api.download(people.ward1!.token, r)).status, 200, 'the remaining member reads')
    assert.equal((await api.download(people.ward2!.token, recs.after!)).status, 404, 'the removed one does not')
  })

  test('with the node key and a copy of every row, nothing opens a team key, the team\'s grant block or a record; a member\'s own key opens them the same way', async () => {
    // The copy: every row of every table.
    const tables = s.db.dialect === 'sqlite'
      ? await s.db.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`)
      : await s.db.all<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`)
    const cells: string[] = []
    for (const { name } of tables) for (const row of await s.db.all<Record<string, unknown>>(`SELECT * FROM "${name}"`)) for (const v of Object.values(row)) if (typeof v === 'string') cells.push(v)
    assert.ok(cells.length > 100, `${cells.length} text cells`)
    // Whatever is sealed under the node key with a team key's label: nothing.
    const sealedLike = cells.filter((c) => /^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{40,}$/.test(c))
    assert.ok(sealedLike.length > 0, 'the hospitals\' sealed secrets are among them')
    for (const c of sealedLike) for (const epoch of [1, 2, 3]) assert.throws(() => openWithNodeKey(s.nodeKey, `team:${teamId}:${epoch}`, c), (e: unknown) => isAppError(e, 'KEYSTORE_LOCKED'))
    // What the node key does open: each hospital's sealed emergency key. With each (and the node
    // key itself taken as a key), the attacker tries every team-key wrap, as each holder.
    const hospitals = await s.db.all<{ id: string; address: Address }>(`SELECT id, address FROM hospitals WHERE sealed_secrets <> ''`)
    const stolen = [...await Promise.all(hospitals.map(async (h) => (await unlockHospitalEncryptionKey(s, h.id)).encryptionPrivateKey)), s.nodeKey]
    const holders = await s.db.all<AccountRow>('SELECT a.* FROM accounts a WHERE a.id IN (SELECT account_id FROM team_key_wraps WHERE team_id = ?)', teamId)
    assert.equal(holders.length, 3)
    for (const h of holders) {
      for (const privateKey of stolen) {
        await assert.rejects(openTeamKeys(s, { teamId, member: { id: h.id, address: h.address as Address, scheme: h.key_scheme, privateKey } }), `${h.role}'s wraps`)
      }
    }
    // The team's grant block (the patient's data keys wrapped for the team key) and each record's
    // own envelopes, tried for every epoch's team key address with every stolen key.
    const grant = (await s.db.get<{ envelopes: Hex }>('SELECT envelopes FROM team_grants WHERE team_id = ?', teamId))!
    const grantBlock = await getRawBlockVerified(s.ipfs.blockstore, cidFromDigest(hexToBytes(grant.envelopes as Hex), 'raw'))
    for (const privateKey of stolen) {
      for (const epoch of [1, 2]) {
        const asTeam = { address: teamKeyAddress(teamId, epoch), scheme: 'x25519-hpke' as const, privateKey }
        await assert.rejects(openGrantEnvelope(grantBlock, { grantId: teamId, recordId: recs.before!, reader: { kind: 'account', ...asTeam } }))
        for (const r of [recs.during!, recs.after!]) await assert.rejects(openEnvelopes(await envelopesOf(r), asTeam))
      }
    }
    // Nor through the home hospital's emergency key: one share of two.
    const h1 = hospitals.find((h) => h.id === world.hospital.id)!
    const homeKey = { address: h1.address, scheme: 'x25519-hpke' as const, privateKey: (await unlockHospitalEncryptionKey(s, h1.id)).encryptionPrivateKey }
    for (const r of Object.values(recs)) {
      const env = await envelopesOf(r)
      await assert.rejects(openEnvelopes(env, homeKey), (e: unknown) => isAppError(e, 'RECORD_NOT_FOUND'), 'no single emergency envelope')
      const share = await openShare(env.shares!, r, homeKey)
      assert.ok(share, 'the home holds one share')
      await assert.rejects(combineShares(env.shares!, new Map([[h1.address.toLowerCase(), share]])), (e: unknown) => isAppError(e, 'EMERGENCY_SHARES_PENDING'))
    }

    // The same attempts with a member's own key (from its password) open the keys and records.
    const member = await openTeamKeys(s, { teamId, member: await ownKeys('ward1') })
    assert.deepEqual(member.map((k) => k.epoch), [2, 1])
    const k1 = member.find((k) => k.epoch === 1)!
    const k2 = member.find((k) => k.epoch === 2)!
    const dataKey = await openGrantEnvelope(grantBlock, { grantId: teamId, recordId: recs.before!, reader: { kind: 'account', address: k1.address, scheme: 'x25519-hpke', privateKey: k1.privateKey } })
    assert.ok(openManifest(await envelopesOf(recs.before!), dataKey))
    assert.ok((await openEnvelopes(await envelopesOf(recs.during!), { address: k1.address, scheme: 'x25519-hpke', privateKey: k1.privateKey })).manifest)
    assert.ok((await openEnvelopes(await envelopesOf(recs.after!), { address: k2.address, scheme: 'x25519-hpke', privateKey: k2.privateKey })).manifest)
  })

  test('staff who joined after the team was made hold no key: adding a member answers 409 TEAM_KEY_NOT_HELD and changes nothing; a holder\'s next change gives them every epoch\'s', async () => {
    people.late = await mkUser('staff', 'staff-late@example.org')
    assert.deepEqual([await wrapHolders(1), await wrapHolders(2)].map((w) => w.includes(people.late!.id)), [false, false])
    const refused = await api.json('POST', `/teams/${teamId}/members`, { doctor: people.ward3!.id }, people.late.token)
    assert.deepEqual([refused.status, refused.body.code], [409, 'TEAM_KEY_NOT_HELD'])
    assert.equal(await readTeamMember(s.ledger, { teamId, account: people.ward3!.address }), false, 'nothing on chain')
    assert.equal(await s.db.get('SELECT 1 FROM team_members WHERE team_id = ? AND account_id = ?', teamId, people.ward3!.id), undefined)

    // The first staff member adds ward3, and wraps the team's keys for the late one too.
    assert.equal((await api.json('POST', `/teams/${teamId}/members`, { doctor: people.ward3!.id }, people.staff!.token)).status, 200)
    assert.deepEqual(await wrapHolders(1), ids('ward1', 'ward3', 'staff', 'admin', 'late'))
    assert.deepEqual(await wrapHolders(2), ids('ward1', 'ward3', 'staff', 'admin', 'late'))
    assert.equal((await api.download(people.ward3!.token, recs.before!)).status, 200, 'the new member reads a record granted at epoch 1')
    assert.equal((await api.download(people.ward3!.token, recs.after!)).status, 200)
    // Now the late staff member can remove and add members.
    assert.equal((await api.json('DELETE', `/teams/${teamId}/members/${people.ward3!.id}`, undefined, people.late.token)).status, 200)
    assert.equal((await api.json('POST', `/teams/${teamId}/members`, { doctor: people.ward2!.id }, people.late.token)).status, 200)
    assert.equal((await api.download(people.ward2!.token, recs.before!)).status, 200, 'ward2, back in the team, reads again')
    assert.deepEqual(await wrapHolders(3), ids('ward1', 'ward2', 'staff', 'admin', 'late'))
  })

  test('a team key a node before this change sealed under the node key is wrapped for its holders at start and its sealed copy erased', async () => {
    // What such a node left: the key sealed under the node key, wrapped for the members only.
    const keeper = await ownKeys('staff')
    const held = await openTeamKeys(s, { teamId, member: keeper })
    for (const k of held) {
      await s.db.run('UPDATE team_keys SET sealed_private_key = ? WHERE team_id = ? AND epoch = ?', sealWithNodeKey(s.nodeKey, `team:${teamId}:${k.epoch}`, k.privateKey), teamId, k.epoch)
    }
    await s.db.run('DELETE FROM team_key_wraps WHERE team_id = ? AND account_id IN (?, ?, ?)', teamId, people.staff!.id, people.late!.id, adminId)
    assert.equal(await unsealTeamKeys(s), 3)
    assert.deepEqual(await s.db.all('SELECT epoch FROM team_keys WHERE team_id = ? AND sealed_private_key IS NOT NULL', teamId), [])
    for (const e of [1, 2, 3]) assert.deepEqual(await wrapHolders(e), ids('ward1', 'ward2', 'staff', 'admin', 'late'))
    const again = await openTeamKeys(s, { teamId, member: keeper })
    assert.deepEqual(again.map((k) => bytesToHex(k.privateKey)), held.map((k) => bytesToHex(k.privateKey)), 'the same keys, now from the staff member\'s own wrap')
    assert.equal(await unsealTeamKeys(s), 0, 'nothing left to move')
    assert.equal((await api.json('POST', `/teams/${teamId}/members`, { doctor: people.ward3!.id }, people.late!.token)).status, 200)
    assert.equal((await api.download(people.ward3!.token, recs.before!)).status, 200)
  })
})
