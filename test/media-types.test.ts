// A record is the file as sent, whatever its media type: through the CLI with each clinical
// fixture's natural type, and through HTTP with JSON, XML, text, multipart, odd and no
// Content-Type at all. No route answers 500 for a client's choice of media type (issue 9, item 1).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { errorRegistry } from '../src/errors.ts'
import { Api, cleanup, fixtures, runCli, seed, startNodeProcess, tempDir, type NodeProcess } from './helpers/node-process.ts'

/** Every clinical fixture, with the media type its kind naturally has. */
const natural: Record<string, string> = { fhir: 'application/fhir+json', ccda: 'application/xml', hl7v2: 'x-application/hl7-v2+er7', dicom: 'application/dicom' }
const fixtureFiles = Object.keys(natural).flatMap((dir) => readdirSync(join(fixtures, dir)).sort().map((name) => ({ dir, name, path: join(fixtures, dir, name) })))

describe('records of every media type', { timeout: 1_200_000 }, () => {
  let node: NodeProcess
  let api: Api
  let world: Awaited<ReturnType<typeof seed>>
  const cliHome = tempDir('ml-media-cli-')
  const work = tempDir('ml-media-work-')

  before(async () => {
    node = await startNodeProcess()
    api = new Api(node.url)
    world = await seed(api)
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome, work)
  })

  const recordCount = async () => {
    const r = await api.json('GET', '/records?limit=1000', undefined, world.patient.token)
    assert.equal(r.status, 200)
    return r.body.total as number
  }

  it('the CLI uploads every fixture (FHIR, C-CDA, HL7 v2, DICOM) with its natural media type, and record get reads it back byte for byte', { timeout: 900_000 }, async () => {
    const cli = (args: string[], input?: string) => runCli(args, { api: node.url, cliHome, input })
    for (const who of [world.doctor, world.patient]) {
      const r = await cli(['login', '--email', who.email, '--json'], `${who.password}\n`)
      assert.equal(r.code, 0, r.stderr)
    }
    assert.ok(fixtureFiles.length >= 12)
    // Three CLI processes at a time: each spends most of its life starting up.
    const each = async (f: typeof fixtureFiles[number]) => {
      const up = await cli(['record', 'upload', '--patient', world.patient.email, '--file', f.path, '--json', '--as', world.doctor.email])
      assert.equal(up.code, 0, `${f.name}: ${up.stderr}`)
      const stored = JSON.parse(up.stdout)
      assert.equal(stored.mediaType, natural[f.dir], f.name)
      assert.equal(stored.fileName, f.name)
      const out = join(work, f.name)
      const got = await cli(['record', 'get', stored.recordId, '--out', out, '--json', '--as', world.patient.email])
      assert.equal(got.code, 0, `${f.name}: ${got.stderr}`)
      assert.ok(readFileSync(out).equals(readFileSync(f.path)), `${f.name} reads back byte for byte`)
      const dl = await api.download(world.patient.token, stored.recordId)
      assert.equal(dl.headers.get('content-type'), natural[f.dir], f.name)
    }
    for (let i = 0; i < fixtureFiles.length; i += 3) await Promise.all(fixtureFiles.slice(i, i + 3).map(each))
    // --type overrides the guess; an unknown extension is application/octet-stream.
    const odd = join(work, 'scan.raw')
    writeFileSync(odd, Buffer.from([0, 1, 2, 254, 255]))
    const raw = await cli(['record', 'upload', '--patient', world.patient.email, '--file', odd, '--json', '--as', world.doctor.email])
    assert.equal(JSON.parse(raw.stdout).mediaType, 'application/octet-stream', raw.stderr)
    const typed = await cli(['record', 'upload', '--patient', world.patient.email, '--file', fixtureFiles[0].path, '--type', 'application/json', '--json', '--as', world.doctor.email])
    assert.equal(JSON.parse(typed.stdout).mediaType, 'application/json', typed.stderr)
  })

  it('POST /records stores the same bytes under every media type sent (and none), and keeps that type', async () => {
    const bytes = readFileSync(join(fixtures, 'fhir', 'hospitalInformation1603148702656.json'))
    const cases: [string | undefined, string][] = [
      ['application/json', 'application/json'],
      ['application/json; charset=utf-8', 'application/json'],
      ['application/fhir+json', 'application/fhir+json'],
      ['application/fhir+json; fhirVersion=4.0', 'application/fhir+json'],
      ['application/xml', 'application/xml'],
      ['text/xml', 'text/xml'],
      ['text/plain', 'text/plain'],
      ['text/plain; charset=UTF-8', 'text/plain'],
      ['text/csv', 'text/csv'],
      ['text/html', 'text/html'],
      ['multipart/form-data; boundary=----x', 'multipart/form-data'],
      ['multipart/mixed', 'multipart/mixed'],
      ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
      ['x-application/hl7-v2+er7', 'x-application/hl7-v2+er7'],
      ['APPLICATION/Vnd.Odd-Thing+JSON ; q="a;b"', 'application/vnd.odd-thing+json'],
      ['image/svg+xml', 'image/svg+xml'],
      [undefined, 'application/octet-stream'],
    ]
    for (const [sent, kept] of cases) {
      const headers: Record<string, string> = { 'x-medledger-patient': world.patient.email, 'x-medledger-file-name': 'bundle.json' }
      if (sent !== undefined) headers['content-type'] = sent
      const res = await api.call('POST', '/records', { token: world.doctor.token, body: bytes, headers })
      const body = await res.json() as { recordId: string; mediaType: string; size: number }
      assert.equal(res.status, 201, `${sent}: ${JSON.stringify(body)}`)
      assert.equal(body.mediaType, kept, String(sent))
      assert.equal(body.size, bytes.length, String(sent))
      const dl = await api.download(world.patient.token, body.recordId)
      assert.equal(dl.status, 200)
      assert.ok(dl.bytes.equals(bytes), `${sent}: read back byte for byte`)
      assert.equal(dl.headers.get('content-type'), kept)
    }
    // An empty body with a JSON type is an empty record, not a JSON error.
    const empty = await api.call('POST', '/records', { token: world.doctor.token, body: Buffer.alloc(0), headers: { 'content-type': 'application/json', 'x-medledger-patient': world.patient.email, 'x-medledger-file-name': 'empty.json' } })
    assert.equal(empty.status, 201)
    assert.equal((await empty.json() as { size: number }).size, 0)
  })

  it('a Content-Type that is not a media type is a 4xx on POST /records, and nothing is stored', async () => {
    const before = await recordCount()
    for (const sent of ['json', 'text/', '/json', 'a/b/c', 'text/*', '*/*', 'application/json, text/plain', 'té/xt', ';']) {
      const res = await api.call('POST', '/records', { token: world.doctor.token, body: Buffer.from('{"a":1}'), headers: { 'content-type': sent, 'x-medledger-patient': world.patient.email, 'x-medledger-file-name': 'x.json' } })
      const body = await res.json() as { code: string; message: string }
      assert.ok(res.status >= 400 && res.status < 500, `${sent}: ${res.status} ${JSON.stringify(body)}`)
      assert.ok(['UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED'].includes(body.code), `${sent}: ${body.code}`)
    }
    assert.equal(await recordCount(), before)
  })

  it('JSON routes answer 415 or 400 — never 500 — for any other media type, an invalid Content-Type or a body on GET', async () => {
    const routes: [string, string, string][] = [
      ['POST', '/auth/login', JSON.stringify({ email: world.patient.email, password: 'x' })],
      ['POST', '/verify', JSON.stringify({ all: true })],
      ['POST', '/users/resolve', JSON.stringify({ ref: world.patient.email })],
      ['POST', '/access-requests', JSON.stringify({ patient: world.patient.id, purpose: 'x', days: 1 })],
    ]
    const types = ['text/plain', 'text/plain; charset=utf-8', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/fhir+json', 'application/xml',
      'application/octet-stream', 'json', 'a/b/c', '*/*', ';', 'application/json; charset=', 'application/json']
    for (const [method, path, body] of routes) {
      for (const type of types) {
        for (const payload of [body, '', '{"a":', 'null', '[]', '"x"']) {
          const res = await api.call(method, path, { token: world.doctor.token, body: payload, headers: { 'content-type': type } })
          const text = await res.text()
          assert.ok(res.status < 500, `${method} ${path} as ${type} with ${payload}: ${res.status} ${text}`)
          const json = type === 'application/json' || type.startsWith('application/json;')
          if (!json) {
            assert.equal(res.status, 415, `${method} ${path} as ${type}: ${text}`)
            assert.equal(JSON.parse(text).code, 'UNSUPPORTED_MEDIA_TYPE')
          } else if (payload !== body) {
            assert.ok(res.status >= 400, `${method} ${path} with ${payload}: ${res.status}`)
            assert.ok(JSON.parse(text).code in errorRegistry, `${path} ${payload}: ${text}`)
          }
        }
      }
    }
    // A GET with a body (fetch refuses to send one: plain HTTP).
    for (const type of ['application/json', 'text/plain', 'multipart/form-data', 'json']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${node.url}/api/v1/records`, { method: 'GET', headers: { authorization: `Bearer ${world.patient.token}`, 'content-type': type, 'content-length': '15' } }, (res) => { res.resume(); resolve(res.statusCode!) })
        req.on('error', reject)
        req.end('{"not": "read"}')
      })
      assert.ok(status === 200 || (status >= 400 && status < 500), `GET with a ${type} body: ${status}`)
    }
  })
})
