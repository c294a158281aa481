import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { Client } from 'fhir-kit-client'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { buildApp } from '../../src/api/build-app.ts'
import { assertValidFhir } from './validate.ts'

const fixtures = '/work/shared/fixtures'
/** The media type an EHR sends each kind of fixture with, and the LOINC document type it maps to. */
const kinds: Record<string, { mediaType: string; loinc: string }> = {
  dicom: { mediaType: 'application/dicom', loinc: '18748-4' },
  ccda: { mediaType: 'application/cda+xml', loinc: '34133-9' },
  fhir: { mediaType: 'application/fhir+json', loinc: '60591-5' },
  hl7v2: { mediaType: 'x-application/hl7-v2+er7', loinc: '11503-0' },
}
type Bundle = { resourceType: string; total: number; entry?: { resource: Record<string, any> }[]; link: { relation: string; url: string }[] }

// The FHIR read side (issue 11, part A) on one whole node listening on loopback, driven by
// fhir-kit-client and fetch; every resource it answers is checked by the two validators.
describe('FHIR R4 read side: directory, DocumentReference, Binary, $everything', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  let b: Awaited<ReturnType<typeof seed>>
  let otherPatient: { id: string; token: string }
  let loneDoctor: string
  let pendingDoctor: string
  const uploaded: { id: string; recordId: string; kind: string; name: string; bytes: Buffer }[] = []
  const pw = 'fhir-password-123'

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api, { hospitalName: 'Alpha', tag: 'alpha' })
    b = await seed(api, { hospitalName: 'Beta', tag: 'beta' })
    const mk = async (role: string, email: string) => {
      const r = await api.json('POST', '/users', { role, hospital: a.hospital.id, email, name: `${role} ${email}`, password: pw }, a.admin)
      assert.equal(r.status, 201, JSON.stringify(r.body))
      return { id: r.body.account.id as string, token: await api.login(email, pw) }
    }
    otherPatient = await mk('patient', 'other-patient@example.org')
    loneDoctor = (await mk('doctor', 'lone-doctor@example.org')).token
    assert.equal((await api.json('POST', '/signup', { role: 'doctor', hospital: a.hospital.id, email: 'pending@example.org', name: 'Pending', password: pw, licence: 'LIC-1' }, null)).status, 201)
    pendingDoctor = await api.login('pending@example.org', pw)
    for (const kind of Object.keys(kinds)) {
      for (const name of readdirSync(join(fixtures, kind)).sort()) {
        const bytes = readFileSync(join(fixtures, kind, name))
        const r = await api.upload(a.doctor.token, a.patient.email, name, bytes, { 'content-type': kinds[kind].mediaType })
        assert.equal(r.status, 201, JSON.stringify(r.body))
        uploaded.push({ id: r.body.recordId.slice(2), recordId: r.body.recordId, kind, name, bytes })
      }
    }
    assert.equal((await api.upload(a.doctor.token, otherPatient.id, 'note.txt', Buffer.from('other patient'), { 'content-type': 'text/plain' })).status, 201)
  })
  after(async () => { await node?.stop() })

  const client = (token?: string) => new Client({ baseUrl: `${node.url}/fhir/R4`, customHeaders: token ? { authorization: `Bearer ${token}` } : {} })
  const get = async (path: string, token: string | undefined, accept = 'application/fhir+json') => {
    const res = await fetch(`${node.url}/fhir/R4${path}`, { headers: { accept, ...(token ? { authorization: `Bearer ${token}` } : {}) } })
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) }
  }
  const json = async (path: string, token: string | undefined) => {
    const r = await get(path, token)
    const body = JSON.parse(r.bytes.toString('utf8'))
    assertValidFhir(body, path)
    return { status: r.status, body }
  }
  /** Every page of a search, followed through its next links with fhir-kit-client. */
  const allPages = async (c: Client, first: Bundle): Promise<Bundle[]> => {
    const pages = [first]
    for (let next = await c.nextPage({ bundle: first as never }) as unknown as Bundle | undefined; next; next = await c.nextPage({ bundle: next as never }) as unknown as Bundle | undefined) {
      assertValidFhir(next, 'next page')
      pages.push(next)
    }
    return pages
  }

  it('DocumentReference of every fixture: valid, typed by content, proof identifiers matching the native record, attachment pointing at Binary', async () => {
    for (const u of uploaded) {
      const { status, body } = await json(`/DocumentReference/${u.id}`, a.patient.token)
      assert.equal(status, 200, u.name)
      const native = (await api.json('GET', `/records/${u.recordId}/meta`, undefined, a.patient.token)).body
      assert.equal(body.id, u.id)
      assert.equal(body.type.coding[0].code, kinds[u.kind].loinc, u.name)
      assert.equal(body.subject.reference, `Patient/${a.patient.id}`)
      assert.equal(body.author[0].reference, `Practitioner/${a.doctor.id}`)
      assert.equal(body.custodian.reference, `Organization/${a.hospital.id}`)
      assert.equal(body.date, native.anchoredAt)
      const ids = Object.fromEntries(body.identifier.map((i: { system: string; value: string }) => [i.system, i.value]))
      assert.equal(ids['urn:medledger:record-id'], u.recordId)
      assert.equal(ids['urn:medledger:ipfs-cid'], native.cid)
      assert.equal(ids['urn:medledger:anchor-digest'], native.digest)
      // The envelopes block's digest, read back from its CID as the listing shows it: the anchored one.
      const anchored = await node.node.services.db.get<{ envelopes: string }>('SELECT envelopes FROM records WHERE record_id = ?', u.recordId.toLowerCase())
      assert.equal(ids['urn:medledger:envelopes-digest'], anchored?.envelopes)
      assert.equal(ids['urn:medledger:anchor-tx'], native.txHash)
      assert.equal(ids['urn:medledger:anchor-block'], String(native.blockNumber))
      const att = body.content[0].attachment
      assert.deepEqual([att.contentType, att.size, att.title, att.url], [kinds[u.kind].mediaType, u.bytes.length, u.name, `Binary/${u.id}`])
      assert.equal(att.hash, createHash('sha256').update(u.bytes).digest('base64'))
    }
  })

  it('Binary of every fixture: as a resource its data, as bytes the file itself, both identical to the native read; a conditional read is 304', async () => {
    const c = client(a.patient.token)
    for (const u of uploaded) {
      const bin = await c.read({ resourceType: 'Binary', id: u.id }) as unknown as { resourceType: string; contentType: string; data: string }
      assertValidFhir(bin, u.name)
      assert.equal(bin.contentType, kinds[u.kind].mediaType)
      assert.ok(Buffer.from(bin.data, 'base64').equals(u.bytes), u.name)
      const raw = await get(`/Binary/${u.id}`, a.patient.token, '*/*')
      assert.equal(raw.status, 200)
      assert.equal(raw.headers.get('content-type'), kinds[u.kind].mediaType)
      assert.ok(raw.bytes.equals(u.bytes), u.name)
      assert.ok((await api.download(a.patient.token, u.recordId)).bytes.equals(u.bytes))
    }
    await assert.rejects(c.read({ resourceType: 'Binary', id: uploaded[0].id, options: { headers: { 'if-none-match': 'W/"1"' } } }), (err: { response?: { status?: number } }) => err.response?.status === 304)
  })

  it('a Binary read is the native read: logged in the record\'s on-chain trail', async () => {
    const u = uploaded[0]
    const reads = async () => ((await api.json('GET', `/audit?record=${u.recordId}`, undefined, a.patient.token)).body.entries as { event: string }[]).length
    const before = await reads()
    assert.equal((await get(`/Binary/${u.id}`, a.doctor.token, 'application/octet-stream')).status, 200)
    assert.equal(await reads(), before + 1)
  })

  it('DocumentReference search with fhir-kit-client: every page through next links, total counting what the caller may read; date, type, author and _sort', async () => {
    const c = client(a.patient.token)
    const page1 = await c.search({ resourceType: 'DocumentReference', searchParams: { patient: `Patient/${a.patient.id}`, _count: 4 } }) as unknown as Bundle
    assertValidFhir(page1, 'first page')
    assert.equal(page1.total, uploaded.length)
    const pages = await allPages(c, page1)
    assert.equal(pages.length, Math.ceil(uploaded.length / 4))
    const ids = pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource.id))
    assert.deepEqual([...ids].sort(), uploaded.map((u) => u.id).sort())
    const dates = pages.flatMap((p) => (p.entry ?? []).map((e) => Date.parse(e.resource.date)))
    assert.deepEqual(dates, [...dates].sort((x, y) => y - x), 'newest first')

    const search = async (q: string, token = a.patient.token) => (await json(`/DocumentReference?${q}`, token)).body as Bundle
    assert.equal((await search(`type=http://loinc.org|18748-4`)).total, uploaded.filter((u) => u.kind === 'dicom').length)
    assert.equal((await search(`type=34133-9,11503-0`)).total, uploaded.filter((u) => u.kind === 'ccda' || u.kind === 'hl7v2').length)
    assert.equal((await search(`author=Practitioner/${a.doctor.id}`)).total, uploaded.length)
    assert.equal((await search(`author=Practitioner/${b.doctor.id}`)).total, 0)
    const asc = (await search('_sort=date&_count=1000')).entry!.map((e) => Date.parse(e.resource.date))
    assert.deepEqual(asc, [...asc].sort((x, y) => x - y))
    // Anchors mined in the same second share a block time: split at the last one.
    const first = new Date(asc[0]).toISOString()
    const last = new Date(asc[asc.length - 1]).toISOString()
    const ge = (await search(`date=ge${last}`)).total
    const lt = (await search(`date=lt${last}`)).total
    assert.equal(ge + lt, uploaded.length)
    assert.equal(ge, asc.filter((t) => t === asc[asc.length - 1]).length)
    assert.equal((await search(`date=ge${first}&date=le${last}`)).total, uploaded.length)
    assert.equal((await search(`date=lt${first}`)).total, 0)
    assert.equal((await search(`date=ge2000-01-01&date=le2000-12-31`)).total, 0)
    const bad = await get('/DocumentReference?date=yesterday', a.patient.token)
    assert.equal(bad.status, 400)
    assert.equal(JSON.parse(bad.bytes.toString()).issue[0].details.coding[0].code, 'VALIDATION_FAILED')
  })

  it('a search never returns, counts or hints at what the caller may not read: the answer is the one for a patient that does not exist', async () => {
    const nobody = '00000000-0000-4000-8000-000000000000'
    const strip = (x: Bundle) => ({ total: x.total, entry: x.entry ?? [] })
    for (const [who, token] of [['doctor of another hospital', b.doctor.token], ['doctor without a grant', loneDoctor], ['unconfirmed doctor', pendingDoctor], ['other patient', otherPatient.token]] as const) {
      const seen = (await json(`/DocumentReference?patient=Patient/${a.patient.id}`, token)).body as Bundle
      const none = (await json(`/DocumentReference?patient=Patient/${nobody}`, token)).body as Bundle
      assert.deepEqual(strip(seen), { total: 0, entry: [] }, who)
      assert.deepEqual(strip(seen), strip(none), who)
      const read = await json(`/DocumentReference/${uploaded[0].id}`, token)
      const absent = await json(`/DocumentReference/${'ab'.repeat(32)}`, token)
      assert.deepEqual([read.status, read.body.issue[0].details.coding[0].code], [404, 'RECORD_NOT_FOUND'], who)
      assert.deepEqual(read.body, absent.body, who)
      const bin = await get(`/Binary/${uploaded[0].id}`, token, '*/*')
      assert.equal(bin.status, 404, who)
      const everything = (await json(`/Patient/${a.patient.id}/$everything`, token))
      if (everything.status === 200) assert.deepEqual((everything.body as Bundle).entry!.map((e) => e.resource.resourceType), ['Patient'], who)
      else assert.equal(everything.status, 404, who)
    }
    // The other patient's own search holds their one record only.
    assert.equal(((await json('/DocumentReference', otherPatient.token)).body as Bundle).total, 1)
  })

  it('Patient, Practitioner, PractitionerRole, Organization: read and search as the native directory shows them', async () => {
    const ids = async (path: string, token: string) => {
      const r = await json(path, token)
      assert.equal(r.status, 200, path)
      return ((r.body as Bundle).entry ?? []).map((e) => e.resource.id).sort()
    }
    assert.deepEqual(await ids('/Patient', a.doctor.token), [a.patient.id, otherPatient.id].sort())
    assert.deepEqual(await ids('/Patient', loneDoctor), [])
    assert.deepEqual(await ids('/Patient', otherPatient.token), [otherPatient.id])
    assert.deepEqual(await ids(`/Patient?identifier=urn:ietf:rfc:3986|urn:ethereum:${a.patient.address}`, a.doctor.token), [a.patient.id])
    assert.deepEqual(await ids(`/Patient?organization=Organization/${b.hospital.id}`, a.admin), [b.patient.id])
    assert.deepEqual(await ids(`/Patient?_id=${a.patient.id}`, a.patient.token), [a.patient.id])
    const own = await json(`/Patient/${a.patient.id}`, a.patient.token)
    assert.equal(own.body.name[0].text, a.patient.name)
    assert.deepEqual(own.body.identifier, [{ system: 'urn:ietf:rfc:3986', value: `urn:ethereum:${a.patient.address.toLowerCase()}` }])
    // As POST /users/resolve: a confirmed doctor outside the patient's care learns the id and address only.
    const outside = await json(`/Patient/${a.patient.id}`, loneDoctor)
    assert.deepEqual(Object.keys(outside.body).sort(), ['id', 'identifier', 'resourceType'])
    for (const token of [otherPatient.token, pendingDoctor]) assert.equal((await json(`/Patient/${a.patient.id}`, token)).status, 404)

    const lone = await ids('/Practitioner?name=lone-doctor', a.admin)
    assert.equal(lone.length, 1)
    assert.deepEqual(await ids('/Practitioner?name=DOCTOR', a.admin), [a.doctor.id, b.doctor.id, ...lone].sort())
    assert.deepEqual(await ids('/Practitioner?name=doctor&name=beta', a.admin), [b.doctor.id])
    assert.deepEqual(await ids('/Practitioner', a.patient.token), [])
    assert.equal((await json(`/Practitioner/${a.doctor.id}`, b.doctor.token)).status, 404)
    const role = await json(`/PractitionerRole/${a.doctor.id}`, a.doctor.token)
    assert.equal(role.body.organization.reference, `Organization/${a.hospital.id}`)
    assert.deepEqual(await ids(`/PractitionerRole?organization=Organization/${b.hospital.id}&practitioner=Practitioner/${b.doctor.id}`, a.admin), [b.doctor.id])
    const orgs = await ids('/Organization', a.patient.token)
    assert.ok(orgs.includes(a.hospital.id) && orgs.includes(b.hospital.id))
    assert.deepEqual(await ids('/Organization?name=beta', a.patient.token), [b.hospital.id])
    const org = await json(`/Organization/${a.hospital.id}`, b.patient.token)
    assert.equal(org.body.name, 'Alpha')
    assert.equal((await json('/Organization/no-such-hospital', a.patient.token)).status, 404)
    assert.equal((await json('/Patient/not_a_fhir_id!', a.patient.token)).status, 400)
  })

  it('Patient $everything: the Patient and the DocumentReferences the caller may see', async () => {
    const c = client(a.doctor.token)
    const bundle = await c.request(`Patient/${a.patient.id}/$everything`) as unknown as Bundle
    assertValidFhir(bundle, '$everything')
    const types = bundle.entry!.map((e) => e.resource.resourceType)
    assert.equal(types[0], 'Patient')
    assert.equal(types.filter((t) => t === 'DocumentReference').length, uploaded.length)
    assert.equal(bundle.total, bundle.entry!.length)
  })

  // Last: it opens Alpha's patient to Beta's doctor, whom the tests above expect to see nothing.
  it('Patient $everything gathers every module\'s hook: a grant shows as a Consent, and the grantee then sees the records', async () => {
    const requestId = (await api.json('POST', '/access-requests', { patient: a.patient.email, purpose: 'second opinion', days: 1 }, b.doctor.token)).body.requestId
    assert.equal((await api.json('POST', `/access-requests/${requestId}/approve`, {}, a.patient.token)).status, 200)
    const own = (await json(`/Patient/${a.patient.id}/$everything`, a.patient.token)).body as Bundle
    const consents = own.entry!.filter((e) => e.resource.resourceType === 'Consent')
    assert.ok(consents.length >= 1, 'the grant is a Consent in the patient\'s $everything')
    assert.ok(consents.some((e) => e.resource.status === 'active'))
    const grantee = (await json(`/Patient/${a.patient.id}/$everything`, b.doctor.token)).body as Bundle
    assert.equal(grantee.entry!.filter((e) => e.resource.resourceType === 'DocumentReference').length, uploaded.length)
    assert.equal(((await json(`/DocumentReference?patient=Patient/${a.patient.id}`, b.doctor.token)).body as Bundle).total, uploaded.length)
  })

  it('a Binary resource is refused above MEDLEDGER_FHIR_BINARY_MAX_MB with 413 BINARY_TOO_LARGE; the bytes still stream', async () => {
    const services = node.node.services
    const small = await buildApp({ services: { ...services, config: Object.freeze({ ...services.config, fhirBinaryMaxMb: 0 }) } })
    try {
      const u = uploaded[0]
      const asResource = await small.inject({ url: `/fhir/R4/Binary/${u.id}`, headers: { accept: 'application/fhir+json', authorization: `Bearer ${a.patient.token}` } })
      assert.equal(asResource.statusCode, 413)
      const oo = asResource.json()
      assertValidFhir(oo, '413')
      assert.equal(oo.issue[0].details.coding[0].code, 'BINARY_TOO_LARGE')
      const raw = await small.inject({ url: `/fhir/R4/Binary/${u.id}`, headers: { accept: '*/*', authorization: `Bearer ${a.patient.token}` } })
      assert.equal(raw.statusCode, 200)
      assert.ok(raw.rawPayload.equals(u.bytes))
    } finally {
      await small.close()
    }
  })

  it('links and fullUrls use the configured public URL when there is one', async () => {
    const services = node.node.services
    const proxied = await buildApp({ services: { ...services, config: Object.freeze({ ...services.config, publicUrl: 'https://fhir.hospital.example' }) } })
    try {
      const cs = (await proxied.inject({ url: '/fhir/R4/metadata' })).json()
      assert.equal(cs.implementation.url, 'https://fhir.hospital.example/fhir/R4')
      const bundle = (await proxied.inject({ url: '/fhir/R4/DocumentReference?_count=2', headers: { authorization: `Bearer ${a.patient.token}` } })).json()
      assertValidFhir(bundle, 'behind a proxy')
      for (const l of bundle.link) assert.ok(l.url.startsWith('https://fhir.hospital.example/fhir/R4/DocumentReference?'), l.url)
      assert.ok(bundle.entry[0].fullUrl.startsWith('https://fhir.hospital.example/fhir/R4/DocumentReference/'))
    } finally {
      await proxied.close()
    }
  })
})
