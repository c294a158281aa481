// FHIR R4, the write side (issue 11, items 5–7): records created through FHIR (DocumentReference
// with base64 data, Binary as raw bytes or as a resource, a whole Bundle as one record), Consent
// read, searched and decided by PUT with fhir-kit-client, and the on-chain reads as AuditEvents.
// One whole node in this process (real anvil, Helia, SQLite); FHIR over real HTTP, the native
// API through inject. Every resource the server emits passes both validators (validate.ts).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from 'fhir-kit-client'
import { fixtures, seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { assertValidFhir } from './validate.ts'
import { consentId } from '../../src/api/fhir/consent-id.ts'

/** Every clinical fixture, with the media type its kind naturally has. */
const natural: Record<string, string> = { fhir: 'application/fhir+json', ccda: 'application/xml', hl7v2: 'x-application/hl7-v2+er7', dicom: 'application/dicom' }
const fixtureFiles = Object.keys(natural).flatMap((dir) => readdirSync(join(fixtures, dir)).sort().map((name) => ({ dir, name, type: natural[dir], bytes: readFileSync(join(fixtures, dir, name)) })))
const synthea = fixtureFiles.find((f) => f.dir === 'fhir' && !/Information/.test(f.name))!

describe('FHIR R4 write side: create, Consent, AuditEvent', { timeout: 1_200_000 }, () => {
  let node: InProcessNode
  let api: InjectApi
  let world: Awaited<ReturnType<typeof seed>>
  let other: { id: string; token: string; email: string }
  let second: Awaited<ReturnType<typeof seed>>

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    world = await seed(api)
    const email = 'other-patient@example.org'
    const r = await api.json('POST', '/users', { role: 'patient', hospital: world.hospital.id, email, name: 'Other Patient', password: 'patient-password-123' }, world.admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    other = { id: r.body.account.id, token: await api.login(email, 'patient-password-123'), email }
    second = await seed(api, { hospitalName: 'St Luke', tag: 'b' })
  })
  after(async () => { await node?.stop() })

  /** A FHIR call over HTTP: JSON bodies as application/fhir+json, bytes as they are. */
  const fhir = async (method: string, path: string, { token, json, body, headers = {} }: { token?: string; json?: unknown; body?: Uint8Array | string; headers?: Record<string, string> } = {}) => {
    const h: Record<string, string> = { accept: 'application/fhir+json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(json !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers }
    const res = await fetch(`${node.url}/fhir/R4${path}`, { method, headers: h, body: json !== undefined ? JSON.stringify(json) : body as BodyInit | undefined })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
  }
  const client = (token: string) => new Client({ baseUrl: `${node.url}/fhir/R4`, bearerToken: token })
  const recordCount = async (token = world.patient.token) => (await api.json('GET', '/records?limit=1', undefined, token)).body.total as number
  const native = async (recordId: string, token = world.patient.token) => api.download(token, recordId)
  const outcomeCode = (body: { resourceType: string; issue: { details: { coding: { code: string }[] } }[] }) => {
    assert.equal(body.resourceType, 'OperationOutcome')
    assertValidFhir(body, 'OperationOutcome')
    return body.issue[0].details.coding[0].code
  }

  it('every fixture created through FHIR — DocumentReference with base64 data, Binary as raw bytes, Binary as a resource — is one anchored record that reads back byte for byte through the native API', async () => {
    const before = await recordCount()
    const each = async (f: typeof fixtureFiles[number], i: number) => {
      let res
      if (i % 3 === 0) {
        res = await client(world.doctor.token).create({
          resourceType: 'DocumentReference',
          body: { resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${world.patient.id}` }, content: [{ attachment: { contentType: f.type, title: f.name, data: f.bytes.toString('base64') } }] },
        }) as { resourceType: string; id: string; content: { attachment: { title: string; contentType: string } }[] }
        assertValidFhir(res, f.name)
        assert.equal(res.resourceType, 'DocumentReference')
        assert.equal(res.content[0].attachment.title, f.name)
      } else if (i % 3 === 1) {
        const r = await fhir('POST', '/Binary', { token: world.doctor.token, body: f.bytes, headers: { 'content-type': f.type, 'x-medledger-patient': `Patient/${world.patient.id}`, 'x-medledger-file-name': encodeURIComponent(f.name) } })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        assert.equal(r.headers.get('location'), `${node.url}/fhir/R4/Binary/${r.body.id}`)
        assertValidFhir(r.body, f.name)
        res = r.body
      } else {
        const r = await fhir('POST', '/Binary', { token: world.doctor.token, json: { resourceType: 'Binary', contentType: f.type, securityContext: { reference: `Patient/${world.patient.id}` }, data: f.bytes.toString('base64') }, headers: { 'x-medledger-file-name': encodeURIComponent(f.name) } })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        assertValidFhir(r.body, f.name)
        res = r.body
      }
      const back = await native(`0x${res.id}`)
      assert.equal(back.status, 200, f.name)
      assert.ok(back.bytes.equals(f.bytes), `${f.name} reads back byte for byte`)
      assert.equal(back.headers.get('content-type'), f.type, f.name)
      const meta = await api.json('GET', `/records/0x${res.id}/meta`, undefined, world.patient.token)
      assert.equal(meta.body.fileName, f.name)
      assert.ok(meta.body.txHash, 'anchored on chain')
    }
    for (let i = 0; i < fixtureFiles.length; i += 3) await Promise.all(fixtureFiles.slice(i, i + 3).map((f, j) => each(f, i + j)))
    assert.equal(await recordCount(), before + fixtureFiles.length)
  })

  it('a whole Synthea Bundle posted to /Binary is stored as ONE encrypted record, byte for byte, never expanded', async () => {
    const before = await recordCount()
    const docsBefore = (await fhir('GET', `/DocumentReference?patient=Patient/${world.patient.id}&_count=0`, { token: world.patient.token })).body.total as number
    const r = await fhir('POST', '/Binary', { token: world.doctor.token, body: synthea.bytes, headers: { 'content-type': 'application/fhir+json', 'x-medledger-patient': world.patient.email } })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal(r.body.contentType, 'application/fhir+json')
    assert.equal(await recordCount(), before + 1)
    const docs = await fhir('GET', `/DocumentReference?patient=Patient/${world.patient.id}&_count=0`, { token: world.patient.token })
    assert.equal(docs.body.total, docsBefore + 1, 'one DocumentReference more, and nothing of the bundle\'s content')
    const back = await native(`0x${r.body.id}`)
    assert.ok(back.bytes.equals(synthea.bytes))
    // The Bundle's own Patient is not this node's: no Patient of that name appears.
    const inner = JSON.parse(synthea.bytes.toString('utf8')).entry.find((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Patient').resource.id as string
    assert.equal((await fhir('GET', `/Patient/${inner}`, { token: world.patient.token })).status, 404)
  })

  it('every native upload reads back identical through FHIR Binary', async () => {
    for (const f of fixtureFiles) {
      const up = await api.upload(world.doctor.token, world.patient.email, f.name, f.bytes, { 'content-type': f.type })
      assert.equal(up.status, 201, JSON.stringify(up.body))
      const res = await fetch(`${node.url}/fhir/R4/Binary/${up.body.recordId.slice(2)}`, { headers: { authorization: `Bearer ${world.patient.token}`, accept: '*/*' } })
      assert.equal(res.status, 200, f.name)
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(f.bytes), `${f.name} through FHIR Binary`)
    }
  })

  it('bad input answers an OperationOutcome with the native code and stores nothing', async () => {
    const before = await recordCount()
    const docRef = (data: unknown, subject = `Patient/${world.patient.id}`) => ({ resourceType: 'DocumentReference', status: 'current', subject: { reference: subject }, content: [{ attachment: { contentType: 'text/plain', title: 'note.txt', data } }] })
    const cases: [string, Awaited<ReturnType<typeof fhir>>, number, string][] = [
      ['bad base64', await fhir('POST', '/DocumentReference', { token: world.doctor.token, json: docRef('not base64!') }), 400, 'VALIDATION_FAILED'],
      ['no data', await fhir('POST', '/DocumentReference', { token: world.doctor.token, json: docRef(undefined) }), 400, 'MISSING_FILE'],
      ['no subject', await fhir('POST', '/DocumentReference', { token: world.doctor.token, json: { ...docRef('aGk='), subject: undefined } }), 400, 'VALIDATION_FAILED'],
      ['a bad file name', await fhir('POST', '/DocumentReference', { token: world.doctor.token, json: { ...docRef('aGk='), content: [{ attachment: { contentType: 'text/plain', title: '../etc/passwd', data: 'aGk=' } }] } }), 400, 'VALIDATION_FAILED'],
      ['a Binary resource with bad base64', await fhir('POST', '/Binary', { token: world.doctor.token, json: { resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: `Patient/${world.patient.id}` }, data: '%%%' } }), 400, 'VALIDATION_FAILED'],
      ['raw bytes naming no patient', await fhir('POST', '/Binary', { token: world.doctor.token, body: 'hello', headers: { 'content-type': 'text/plain' } }), 400, 'VALIDATION_FAILED'],
      ['a patient uploading', await fhir('POST', '/DocumentReference', { token: world.patient.token, json: docRef('aGk=') }), 403, 'FORBIDDEN'],
      ['an unknown patient', await fhir('POST', '/DocumentReference', { token: world.doctor.token, json: docRef('aGk=', 'Patient/00000000-0000-4000-8000-000000000000') }), 404, 'UNKNOWN_PATIENT'],
      ['no session', await fhir('POST', '/Binary', { body: 'hello', headers: { 'content-type': 'text/plain', 'x-medledger-patient': world.patient.email } }), 401, 'UNAUTHENTICATED'],
    ]
    for (const [what, res, status, code] of cases) {
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`)
      assert.equal(outcomeCode(res.body), code, what)
    }
    assert.equal(await recordCount(), before, 'nothing stored')
  })

  let readable = ''
  let otherRecord = ''
  it('Consent with fhir-kit-client: a pending request is proposed; the patient reads it and approves it by update (narrowed), on chain, as the native approval does', async () => {
    readable = (await api.upload(world.doctor.token, world.patient.email, 'grant.txt', Buffer.from('granted'))).body.recordId
    const asked = await api.json('POST', '/access-requests', { patient: world.patient.email, purpose: 'follow-up', days: 30 }, second.doctor.token)
    assert.equal(asked.status, 201, JSON.stringify(asked.body))
    const id = consentId('grant', asked.body.requestId)
    const patient = client(world.patient.token)
    const found = await patient.search({ resourceType: 'Consent', searchParams: { status: 'proposed', actor: `Practitioner/${second.doctor.id}` } }) as unknown as { total: number; entry: { resource: { id: string } }[] }
    assertValidFhir(found, 'Consent search')
    assert.equal(found.total, 1)
    assert.equal(found.entry[0].resource.id, id)
    const consent = await patient.read({ resourceType: 'Consent', id }) as Record<string, any>
    assertValidFhir(consent, 'Consent')
    assert.equal(consent.status, 'proposed')
    assert.equal(consent.patient.reference, `Patient/${world.patient.id}`)
    assert.equal(consent.provision.purpose[0].code, 'TREAT')
    // The doctor who asked sees it too, and may not decide it: 403 as natively; another patient gets 404.
    const byDoctor = await fhir('PUT', `/Consent/${id}`, { token: second.doctor.token, json: { ...consent, status: 'active' } })
    assert.equal(byDoctor.status, 403)
    assert.equal(outcomeCode(byDoctor.body), 'NOT_REQUEST_PATIENT')
    const byOther = await fhir('PUT', `/Consent/${id}`, { token: other.token, json: { ...consent, status: 'active' } })
    assert.equal(byOther.status, 404)
    assert.equal(outcomeCode(byOther.body), 'REQUEST_NOT_FOUND')
    assert.equal((await fhir('GET', `/Consent/${id}`, { token: other.token })).status, 404)
    assert.equal((await api.json('GET', `/access-requests/${asked.body.requestId}`, undefined, world.patient.token)).body.status, 'pending', 'refused updates changed nothing')

    const now = Date.now()
    const end = new Date(now + 10 * 86_400_000).toISOString()
    const approved = await patient.update({ resourceType: 'Consent', id, body: { ...consent, resourceType: 'Consent', status: 'active', provision: { ...consent.provision, period: { end } } } }) as Record<string, any>
    assertValidFhir(approved, 'approved Consent')
    assert.equal(approved.status, 'active')
    const view = (await api.json('GET', `/access-requests/${asked.body.requestId}`, undefined, world.patient.token)).body
    assert.equal(view.status, 'approved')
    assert.ok(view.decisionTx, 'the approval is on chain')
    assert.ok(Math.abs(view.durationSeconds - 10 * 86_400) < 3600, `narrowed to 10 days: ${view.durationSeconds}`)
    assert.equal(approved.provision.period.end, new Date(Date.parse(view.expiresAt)).toISOString().replace('.000Z', 'Z'))
    // The grant works: the doctor reads the patient's record natively.
    assert.equal((await native(readable, second.doctor.token)).status, 200)

    // inactive revokes it, as the native revoke does; the doctor's reads end.
    const revoked = await patient.update({ resourceType: 'Consent', id, body: { ...approved, resourceType: 'Consent', status: 'inactive' } }) as Record<string, any>
    assert.equal(revoked.status, 'inactive')
    assert.equal((await api.json('GET', `/access-requests/${asked.body.requestId}`, undefined, world.patient.token)).body.status, 'revoked')
    assert.equal((await native(readable, second.doctor.token)).status, 404)

    // rejected denies a pending request.
    const again = await api.json('POST', '/access-requests', { patient: world.patient.email, purpose: 'second opinion', days: 5, recordIds: [readable] }, second.doctor.token)
    const againId = consentId('grant', again.body.requestId)
    const pending = await patient.read({ resourceType: 'Consent', id: againId }) as Record<string, any>
    assert.deepEqual(pending.provision.data.map((d: { reference: { reference: string } }) => d.reference.reference), [`DocumentReference/${readable.slice(2)}`])
    const denied = await patient.update({ resourceType: 'Consent', id: againId, body: { ...pending, resourceType: 'Consent', status: 'rejected' } }) as Record<string, any>
    assert.equal(denied.status, 'rejected')
    assert.equal((await api.json('GET', `/access-requests/${again.body.requestId}`, undefined, world.patient.token)).body.status, 'denied')
    // A decided request stays decided.
    const late = await fhir('PUT', `/Consent/${againId}`, { token: world.patient.token, json: { ...pending, status: 'active' } })
    assert.equal(late.status, 409)
    assert.equal(outcomeCode(late.body), 'REQUEST_NOT_PENDING')
  })

  it('shares and break-glass accesses are Consents too; search by patient, actor, status and date sees only what the native lists show', async () => {
    const share = await api.json('POST', '/shares', { recordIds: [readable], to: world.doctor.email, days: 2 }, world.patient.token)
    assert.equal(share.status, 201, JSON.stringify(share.body))
    const shareId = consentId('share', share.body.shareId)
    // Written before the emergency: break-glass opens the records the patient has when it is declared.
    otherRecord = (await api.upload(world.doctor.token, other.email, 'er.txt', Buffer.from('emergency note'))).body.recordId
    const emergency = await api.json('POST', '/emergencies', { patient: other.email, reason: 'unconscious at admission' }, second.doctor.token)
    assert.equal(emergency.status, 201, JSON.stringify(emergency.body))
    const emergencyId = consentId('emergency', emergency.body.emergencyId)

    const mine = await fhir('GET', '/Consent', { token: world.patient.token })
    assertValidFhir(mine.body, 'Consent searchset')
    const ids = mine.body.entry.map((e: { resource: { id: string } }) => e.resource.id)
    assert.ok(ids.includes(shareId))
    assert.ok(!ids.includes(emergencyId), 'another patient\'s emergency is not mine')
    assert.equal(mine.body.total, ids.length)
    const shared = mine.body.entry.find((e: { resource: { id: string } }) => e.resource.id === shareId).resource
    assert.equal(shared.status, 'active')
    assert.equal(shared.provision.actor[0].reference.reference, `Practitioner/${world.doctor.id}`)
    assert.deepEqual(shared.provision.data.map((d: { reference: { reference: string } }) => d.reference.reference), [`DocumentReference/${readable.slice(2)}`])

    const theirs = await fhir('GET', `/Consent?patient=Patient/${other.id}`, { token: other.token })
    assertValidFhir(theirs.body)
    assert.equal(theirs.body.total, 1)
    const glass = theirs.body.entry[0].resource
    assert.equal(glass.id, emergencyId)
    assert.equal(glass.status, 'active')
    assert.equal(glass.provision.purpose[0].code, 'ETREAT')
    assert.equal(glass.performer[0].reference, `Practitioner/${second.doctor.id}`)
    const byPut = await fhir('PUT', `/Consent/${emergencyId}`, { token: other.token, json: { ...glass, status: 'inactive' } })
    assert.equal(byPut.status, 403, 'no one ends a break-glass access by PUT')

    // Each doctor, by actor and status: the share made to one, the break-glass access of the other.
    const doctors = await fhir('GET', `/Consent?actor=Practitioner/${world.doctor.id}&status=active`, { token: world.doctor.token })
    assert.deepEqual(doctors.body.entry.map((e: { resource: { id: string } }) => e.resource.id), [shareId])
    const glassDoctor = await fhir('GET', `/Consent?actor=Practitioner/${second.doctor.id}&status=active`, { token: second.doctor.token })
    assert.deepEqual(glassDoctor.body.entry.map((e: { resource: { id: string } }) => e.resource.id), [emergencyId])
    assert.equal((await fhir('GET', `/Consent?actor=Practitioner/${second.doctor.id}`, { token: second.doctor.token })).body.total, 3, 'and the revoked grant and the denied request')
    assert.equal((await fhir('GET', `/Consent?patient=Patient/${other.id}`, { token: world.patient.token })).body.total, 0, 'a search never shows or counts another patient\'s consents')
    const today = new Date().toISOString().slice(0, 10)
    assert.equal((await fhir('GET', `/Consent?date=ge${today}&_count=100`, { token: world.patient.token })).body.total, mine.body.total)
    assert.equal((await fhir('GET', '/Consent?date=lt2000-01-01', { token: world.patient.token })).body.total, 0)
    assert.equal((await fhir('GET', '/Consent?date=yesterday', { token: world.patient.token })).status, 400)

    // $everything gathers the Consents the caller may see with the patient's documents.
    const everything = await fhir('GET', `/Patient/${world.patient.id}/$everything`, { token: world.patient.token })
    assert.equal(everything.status, 200)
    assertValidFhir(everything.body, '$everything')
    const gathered = everything.body.entry.filter((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Consent').map((e: { resource: { id: string } }) => e.resource.id).sort()
    assert.deepEqual(gathered, [...ids].sort())

    // inactive ends a share, as the native revoke does.
    const ended = await fhir('PUT', `/Consent/${shareId}`, { token: world.patient.token, json: { ...shared, status: 'inactive' } })
    assert.equal(ended.status, 200, JSON.stringify(ended.body))
    assert.equal(ended.body.status, 'inactive')
    assert.equal((await api.json('GET', '/shares', undefined, world.patient.token)).body.shares.find((s: { shareId: string }) => s.shareId === share.body.shareId).revoked, true)
  })

  it('AuditEvent: every read in the on-chain trail, after IHE BALP; searched by patient, entity, agent and date; never written by a client', async () => {
    // A read by break-glass and one by the patient, each logged on chain.
    assert.equal((await native(otherRecord, second.doctor.token)).status, 200)
    assert.equal((await native(otherRecord, other.token)).status, 200)
    const search = async (query: string, token: string) => {
      const r = await fhir('GET', `/AuditEvent${query}`, { token })
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assertValidFhir(r.body, `AuditEvent${query}`)
      return r.body as { total: number; entry: { resource: Record<string, any> }[] }
    }
    // Reads wait for their audit batch when the node group-commits them: the trail shows them once mined.
    let theirs = await search(`?patient=Patient/${other.id}`, other.token)
    for (let i = 0; i < 100 && theirs.total < 2; i++) {
      await new Promise((r) => setTimeout(r, 300))
      theirs = await search(`?patient=Patient/${other.id}`, other.token)
    }
    assert.equal(theirs.total, 2)
    const emergencyRead = theirs.entry.find((e) => e.resource.agent[0].who.reference === `Practitioner/${second.doctor.id}`)!.resource
    assert.equal(emergencyRead.type.code, 'rest')
    assert.equal(emergencyRead.subtype[0].code, 'read')
    assert.equal(emergencyRead.action, 'R')
    assert.deepEqual(emergencyRead.agent[0].purposeOfUse[0].coding.map((c: { code: string }) => c.code), ['ETREAT', 'BTG'])
    assert.deepEqual(emergencyRead.entity.slice(0, 2).map((e: { what: { reference: string } }) => e.what.reference), [`Patient/${other.id}`, `DocumentReference/${otherRecord.slice(2)}`])
    assert.match(emergencyRead.entity[2].what.identifier.value, /^urn:ethereum:tx:0x[0-9a-f]{64}$/)
    assert.equal(emergencyRead.source.observer.reference, `Organization/${world.hospital.id}`)
    const own = theirs.entry.find((e) => e.resource.agent[0].who.reference === `Patient/${other.id}`)!.resource
    assert.equal(own.agent[0].purposeOfUse[0].coding[0].code, 'PATRQT')

    // Read by id; the same as in the search.
    const one = await fhir('GET', `/AuditEvent/${emergencyRead.id}`, { token: other.token })
    assert.equal(one.status, 200)
    assert.deepEqual(one.body, emergencyRead)
    assert.equal((await fhir('GET', `/AuditEvent/${emergencyRead.id}`, { token: world.patient.token })).status, 404, 'not your trail')
    // The author sees their record's trail by entity; agent and date narrow.
    const byEntity = await search(`?entity=DocumentReference/${otherRecord.slice(2)}&agent=Practitioner/${second.doctor.id}`, world.doctor.token)
    assert.deepEqual(byEntity.entry.map((e) => e.resource.id), [emergencyRead.id])
    assert.equal((await search(`?patient=Patient/${other.id}&date=lt2000`, other.token)).total, 0)
    // A patient with no parameter gets their own trail; another patient's is a 404, as natively.
    assert.ok((await search('', world.patient.token)).entry.every((e) => e.resource.entity[0].what.reference === `Patient/${world.patient.id}`))
    const refused = await fhir('GET', `/AuditEvent?patient=Patient/${other.id}`, { token: world.patient.token })
    assert.equal(refused.status, 404)
    assert.equal(outcomeCode(refused.body), 'UNKNOWN_PATIENT')

    // A client never writes one: create, update, patch and delete answer 405 and change nothing.
    for (const [method, path] of [['POST', '/AuditEvent'], ['PUT', `/AuditEvent/${emergencyRead.id}`], ['DELETE', `/AuditEvent/${emergencyRead.id}`]]) {
      const r = await fhir(method, path, { token: world.doctor.token, ...(method === 'DELETE' ? {} : { json: emergencyRead }) })
      assert.equal(r.status, 405, `${method} ${path}`)
      assert.equal(outcomeCode(r.body), 'AUDIT_EVENT_READ_ONLY')
    }
    assert.equal((await search(`?patient=Patient/${other.id}`, other.token)).total, 2)
    const cs = (await fhir('GET', '/metadata')).body
    const listed = cs.rest[0].resource.find((r: { type: string }) => r.type === 'AuditEvent')
    assert.deepEqual(listed.interaction.map((i: { code: string }) => i.code), ['read', 'search-type'])
  })
})
