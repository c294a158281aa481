import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { assertValidFhir, validateFhir } from './validate.ts'
import { fhirModules } from '../../src/api/fhir/modules.ts'
import { byType } from '../../src/api/fhir/capability-statement.ts'

// The FHIR plugin's frame: the CapabilityStatement, errors as OperationOutcome, the body parsers
// scoped to /fhir/R4, and the validators themselves (they must reject what is wrong).
describe('FHIR R4 scaffold', () => {
  let node: InProcessNode
  // A low limit for the unauthenticated GET /metadata (the last test runs into it).
  before(async () => { node = await startInProcessNode({ env: { MEDLEDGER_RATE_LIMIT_PER_MINUTE: '20' } }) })
  after(async () => { await node?.stop() })
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${node.url}/fhir/R4${path}`, { headers: { accept: 'application/fhir+json', ...headers } })

  it('the validators reject an invalid resource and accept a valid one', () => {
    assert.deepEqual(validateFhir({ resourceType: 'Patient', id: 'a-1', gender: 'female' }), [])
    const bad = validateFhir({ resourceType: 'Patient', id: 'a_1!', gender: 'nonsense', colour: 'blue' })
    assert.ok(bad.some((e) => e.startsWith('medplum:')), bad.join('\n'))
    assert.ok(bad.some((e) => e.startsWith('json-schema:') && e.includes('gender')), bad.join('\n'))
    assert.ok(validateFhir({ resourceType: 'Project' }).length > 0)
  })

  it('GET /metadata lists exactly the registered modules, and is a valid CapabilityStatement', async () => {
    const res = await get('/metadata')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/fhir\+json/)
    const cs = await res.json()
    assertValidFhir(cs, 'CapabilityStatement')
    assert.equal(cs.fhirVersion, '4.0.1')
    const listed = cs.rest[0].resource.map((r: { type: string; interaction: { code: string }[]; searchParam?: { name: string }[] }) => [r.type, r.interaction.map((i) => i.code), (r.searchParam ?? []).map((p) => p.name)])
    assert.deepEqual(listed, byType(fhirModules).map((m) => [m.type, m.interactions, m.searchParams.map((p) => p.name)]))
  })

  it('answers errors as OperationOutcome with the native status and code: unknown route, malformed URL, bad session, unsupported body', async () => {
    const cases: [Response, number, string][] = [
      [await get('/NoSuchType/1'), 404, 'ROUTE_NOT_FOUND'],
      // The router's own refusals (bad percent-encoding, an over-long id) answer in FHIR's shape too.
      [await get('/Patient/%ff'), 400, 'BAD_REQUEST'],
      [await get(`/Patient/${'x'.repeat(150)}`), 400, 'BAD_REQUEST'],
      [await get('/metadata', { authorization: 'Bearer not-a-token' }), 401, 'UNAUTHENTICATED'],
      [await get('/metadata', { authorization: `Bearer ${'x'.repeat(43)}` }), 401, 'SESSION_EXPIRED'],
      [await fetch(`${node.url}/fhir/R4/metadata`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<x/>' }), 404, 'ROUTE_NOT_FOUND'],
    ]
    for (const [res, status, code] of cases) {
      assert.equal(res.status, status, code)
      assert.match(res.headers.get('content-type') ?? '', /^application\/fhir\+json/)
      const oo = await res.json()
      assertValidFhir(oo, code)
      assert.equal(oo.resourceType, 'OperationOutcome')
      assert.equal(oo.issue[0].details.coding[0].code, code)
    }
  })

  it('GET /metadata needs no session and is rate limited per client address like the native open routes: 429 RATE_LIMITED as an OperationOutcome, Retry-After', async () => {
    let res: Response | undefined
    for (let i = 0; i < 25 && res?.status !== 429; i++) res = await get('/metadata')
    assert.equal(res!.status, 429)
    assert.ok(Number(res!.headers.get('retry-after')) > 0)
    const oo = await res!.json()
    assertValidFhir(oo, '429')
    assert.equal(oo.issue[0].details.coding[0].code, 'RATE_LIMITED')
  })

  it('leaves the native API\'s parsing alone: a JSON route still refuses another media type with { code, message }', async () => {
    const res = await fetch(`${node.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: '{}' })
    assert.equal(res.status, 415)
    assert.equal((await res.json()).code, 'UNSUPPORTED_MEDIA_TYPE')
  })
})
