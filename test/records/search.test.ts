import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { hexToBytes, type Hex } from 'viem'
import { seed } from '../helpers/node-process.ts'
import { InjectApi, startInProcessNode, type InProcessNode } from '../helpers/in-process-node.ts'
import { extractContentTerms, extractLabelTerms } from '../../src/records/search/extract-terms.ts'
import { prefixTokenLength, probeEntry } from '../../src/records/search/search-key.ts'
import type { TermWorker } from '../../src/records/search/term-worker.ts'

const fixtures = '/work/shared/fixtures'
const files = ['fhir', 'ccda', 'hl7v2', 'dicom'].flatMap((d) => readdirSync(join(fixtures, d)).map((f) => join(fixtures, d, f)))
const tag = 'Kardiologie Überweisung'
/** Each fixture's media type as a client would name it (the format is told by the first bytes anyway). */
const mediaType = (f: string) => ({ json: 'application/fhir+json', xml: 'application/xml', hl7: 'x-application/hl7-v2+er7', dcm: 'application/dicom' })[f.split('.').pop()!]!

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    const st = statSync(p)
    return st.isDirectory() ? filesUnder(p) : st.isFile() ? [p] : []
  })
}

/**
 * Bytes as searchable text: lower-cased latin1, with the long runs of hex (digests, addresses,
 * signatures) and of mixed-case base64url (wrapped keys, sealed terms) blanked, where a short
 * term would otherwise turn up by chance.
 */
function haystack(parts: Uint8Array[]): string {
  return parts.map((b) => Buffer.from(b).toString('latin1')
    .replace(/[0-9a-fA-F]{16,}/g, ' ')
    .replace(/[A-Za-z0-9_-]{24,}/g, (m) => (/[A-Z]/.test(m) && /[a-z]/.test(m) && /[0-9]/.test(m) ? ' ' : m))
    .toLowerCase()).join('\n')
}

describe('keyword search over encrypted records (one node in process, real chain, Helia and SQLite)', () => {
  let node: InProcessNode
  let api: InjectApi
  let a: Awaited<ReturnType<typeof seed>>
  let other: { token: string; address: string }
  const ids = new Map<string, string>() // file → record id
  const terms = new Map<string, Set<string>>() // file → the terms the test expects indexed
  let baseline: string

  const search = async (q: string, token: string, patient?: string) => {
    const r = await api.json('GET', `/records?q=${encodeURIComponent(q)}${patient ? `&patient=${patient}` : ''}&limit=1000`, undefined, token)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body as { records: { recordId: string }[]; total: number }
  }
  /** The records whose expected terms have, for every word, one it begins (3+ letters) or equals. */
  const expected = (words: string[]) => [...ids].filter(([f]) => words.every((w) => [...terms.get(f)!].some((t) => (w.length >= 3 ? t.startsWith(w) : t === w)))).map(([, id]) => id).sort()

  before(async () => {
    node = await startInProcessNode()
    api = new InjectApi(node.app, node.url)
    a = await seed(api, { hospitalName: 'North Hospital', tag: 'north' })
    const r = await api.json('POST', '/users', { role: 'doctor', hospital: a.hospital.id, email: 'other-north@example.org', name: 'Other Doctor', password: 'doctor-password-123' }, a.admin)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    other = { token: await api.login('other-north@example.org', 'doctor-password-123'), address: r.body.account.address }
    // What any upload leaves in clear (the patient's notice in the mail outbox) is not the index's:
    // one record of random bytes first, then the bytes as they are.
    const first = await api.upload(a.doctor.token, a.patient.email, 'zz.bin', randomBytes(1000))
    assert.equal(first.status, 201, JSON.stringify(first.body))
    baseline = haystack(await storedBytes())
    // The fixtures' terms are extracted on the node's term worker thread, up by now.
    assert.ok((node.node.services.termWorker as TermWorker).threadId !== undefined)
    for (const f of files) {
      const name = f.split('/').pop()!
      const up = await api.upload(a.doctor.token, a.patient.email, name, readFileSync(f), { 'content-type': mediaType(f), 'x-medledger-tags': encodeURIComponent(tag) })
      assert.equal(up.status, 201, JSON.stringify(up.body))
      ids.set(f, up.body.recordId)
      terms.set(f, new Set([...extractContentTerms(readFileSync(f)), ...extractLabelTerms(name, [tag])]))
    }
  })
  after(async () => {
    await node?.stop()
  })

  /** The node's SQLite file and WAL, its Helia blocks (its whole home), and every transaction's input and every log on the chain. */
  async function storedBytes(): Promise<Uint8Array[]> {
    // The chain is read through its RPC below; its state file, anvil's JSON dump of the same
    // blocks, has keys of its own ("historical_states") that would match a term's prefix.
    const out: Uint8Array[] = filesUnder(node.home).filter((p) => !/\/chain\/state[^/]*\.json$/.test(p)).map((p) => new Uint8Array(readFileSync(p)))
    const client = node.node.services.ledger.client
    const latest = await client.getBlockNumber({ cacheTime: 0 })
    for (let n = 0n; n <= latest; n++) {
      const block = await client.getBlock({ blockNumber: n, includeTransactions: true })
      for (const tx of block.transactions) out.push(hexToBytes(tx.input))
    }
    for (const log of await client.getLogs({ fromBlock: 0n, toBlock: latest })) {
      out.push(hexToBytes(log.data), ...log.topics.map((t) => hexToBytes(t as Hex)))
    }
    return out
  }

  it('the patient finds records by a prefix of a FHIR condition, a DICOM modality, an HL7 observation, a C-CDA section title and a tag: exactly the expected ones', async () => {
    const bundle = files.find((f) => f.includes('/fhir/Bibi'))!
    const condition = (JSON.parse(readFileSync(bundle, 'utf8')).entry as { resource: any }[]).map((e) => e.resource).find((r) => r.resourceType === 'Condition')
    const word = (condition.code.coding[0].display as string).toLowerCase().match(/[a-z]{4,}/)![0]
    for (const q of [word.slice(0, 4), 'ct', 'cholest', 'allergies', 'kardio', `${word.slice(0, 5)} patient`]) {
      const got = await search(q, a.patient.token)
      const want = expected(q.split(' '))
      assert.ok(want.length > 0, `the fixtures hold ${q}`)
      assert.deepEqual(got.records.map((r) => r.recordId).sort(), want, q)
      assert.equal(got.total, want.length)
    }
  })

  it('normalizes the query as the terms: case, accents and compatibility forms', async () => {
    const plain = await search('cholesterol', a.patient.token)
    assert.ok(plain.total > 0)
    for (const q of ['CHOLESTÉROL', 'Ｃｈｏｌｅｓｔｅｒｏｌ', 'UBERWEISUNG']) {
      const got = await search(q, a.patient.token)
      assert.deepEqual(got.records.map((r) => r.recordId).sort(), q === 'UBERWEISUNG' ? [...ids.values()].sort() : plain.records.map((r) => r.recordId).sort(), q)
    }
    assert.equal((await search('cholesterolx', a.patient.token)).total, 0)
  })

  it('a doctor without a grant finds nothing and counts nothing; with the patient\'s grant, the same records as the patient', async () => {
    const none = await search('kardio', other.token, a.patient.address)
    assert.deepEqual(none, { records: [], total: 0, limit: 1000, offset: 0 })
    const req = await api.json('POST', '/access-requests', { patient: a.patient.address, purpose: 'search check', days: 7 }, other.token)
    assert.equal(req.status, 201, JSON.stringify(req.body))
    const ok = await api.json('POST', `/access-requests/${req.body.requestId}/approve`, {}, a.patient.token)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    const got = await search('cholest', other.token, a.patient.address)
    assert.deepEqual(got.records.map((r) => r.recordId).sort(), expected(['cholest']))
    assert.ok(got.total > 0)
  })

  it('FHIR DocumentReference?_content= answers the same records, and the CapabilityStatement lists _content', async () => {
    const fhir = async (path: string) => {
      const r = await node.app.inject({ method: 'GET', url: `/fhir/R4/${path}`, headers: { authorization: `Bearer ${a.patient.token}`, accept: 'application/fhir+json' } })
      return { status: r.statusCode, body: JSON.parse(r.body) }
    }
    const got = await fhir(`DocumentReference?_content=cholest&_content=${encodeURIComponent(tag)}&_count=100`)
    assert.equal(got.status, 200, JSON.stringify(got.body))
    assert.deepEqual(got.body.entry.map((e: { resource: { id: string } }) => `0x${e.resource.id}`).sort(), expected(['cholest', 'kardiologie', 'uberweisung']))
    assert.equal(got.body.total, expected(['cholest']).length)
    const meta = await fhir('metadata')
    const doc = meta.body.rest[0].resource.find((r: { type: string }) => r.type === 'DocumentReference')
    assert.ok(doc.searchParam.some((p: { name: string; type: string }) => p.name === '_content' && p.type === 'string'))
  })

  it('refuses a query without words (400 VALIDATION_FAILED)', async () => {
    const r = await api.json('GET', `/records?q=${encodeURIComponent('  ,;  ')}`, undefined, a.patient.token)
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'VALIDATION_FAILED')
  })

  it('the patient\'s search-key rotation re-indexes: the same answers after it', async () => {
    const beforeRotation = await search('cholest', a.patient.token)
    const r = await api.json('POST', '/search-key/rotate', {}, a.patient.token)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.version, 2)
    assert.equal(r.body.records, files.length + 1)
    assert.deepEqual(await search('cholest', a.patient.token), beforeRotation)
    const refused = await api.json('POST', '/search-key/rotate', {}, a.doctor.token)
    assert.equal(refused.status, 403)
  })

  it('rotations of one search key at the same moment: each answers 200 or 409 SEARCH_KEY_BUSY, never 500, and the search still answers the same', async () => {
    const before = await search('cholest', a.patient.token)
    const answers = await Promise.all(Array.from({ length: 4 }, () => api.json('POST', '/search-key/rotate', {}, a.patient.token)))
    assert.ok(answers.some((r) => r.status === 200), JSON.stringify(answers.map((r) => r.body)))
    for (const r of answers) assert.ok(r.status === 200 || (r.status === 409 && r.body.code === 'SEARCH_KEY_BUSY'), JSON.stringify(r.body))
    assert.deepEqual(await search('cholest', a.patient.token), before)
  })

  it('a search key held without its node-sealed copy (as before migration 16) opens through the hospital\'s emergency key, is sealed again, and answers the same', async () => {
    const db = node.node.services.db
    const held = async () => await db.get('SELECT version, node_sealed FROM search_keys WHERE patient_id = ?', a.patient.id) as { version: number; node_sealed: string | null }
    const sealed = (await held()).node_sealed
    assert.ok(sealed, 'the key is held sealed for the node')
    const answer = await search('cholest', a.patient.token)
    await db.run('UPDATE search_keys SET node_sealed = NULL WHERE patient_id = ?', a.patient.id)
    assert.deepEqual(await search('cholest', a.patient.token), answer)
    const again = (await held()).node_sealed
    assert.ok(again && again !== sealed, 'sealed anew (a fresh nonce)')
    // A wrong seal is refused, not taken for another key.
    await db.run('UPDATE search_keys SET node_sealed = ? WHERE patient_id = ?', sealed!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), a.patient.id)
    const r = await api.json('GET', '/records?q=cholest', undefined, a.patient.token)
    assert.equal(r.status, 500)
    assert.equal(r.body.code, 'KEYSTORE_LOCKED')
    await db.run('UPDATE search_keys SET node_sealed = ? WHERE patient_id = ?', again, a.patient.id)
    assert.deepEqual(await search('cholest', a.patient.token), answer)
  })

  it('no indexed term or prefix of any fixture is in clear in the database, its WAL, the blocks or on the chain', async () => {
    const hay = haystack(await storedBytes())
    const all = new Set<string>()
    // Every prefix of 3+ characters, whatever length the index stores as tokens.
    for (const t of terms.values()) for (const term of t) for (let n = 3; n <= [...term].length; n++) all.add([...term].slice(0, n).join(''))
    for (const t of terms.values()) for (const term of t) all.add(term)
    // Shorter strings turn up by chance in megabytes of ciphertext; those already there before
    // the fixtures' uploads (schema, account names, mail notices) are not the index's.
    const checked = [...all].filter((t) => [...t].length >= 6 && !baseline.includes(t))
    assert.ok(checked.length > 500, `${checked.length} terms checked`)
    const found = checked.filter((t) => hay.includes(t))
    assert.deepEqual(found, [])
    const rows = await node.node.services.db.get('SELECT COUNT(*) AS n FROM record_tokens') as { n: number }
    assert.ok(Number(rows.n) > 1000, 'the index holds tokens')
  })

  it(`a word longer than the stored prefixes (${prefixTokenLength}) matches exactly the terms it begins: not a longer word sharing only the stored prefix`, async () => {
    // Two records whose tags share their first prefixTokenLength letters and differ after them.
    for (const [name, t] of [['a.txt', 'Retinopathie'], ['b.txt', 'Retinoblastom']]) {
      const up = await api.upload(a.doctor.token, a.patient.email, name, randomBytes(500), { 'x-medledger-tags': encodeURIComponent(t) })
      assert.equal(up.status, 201, JSON.stringify(up.body))
      ids.set(name, up.body.recordId)
      terms.set(name, extractLabelTerms(name, [t]))
    }
    assert.equal(probeEntry('retinopath'), probeEntry('retinoblast'), 'the two words share their stored prefix')
    const fhirDisplays = [...terms.values()].flatMap((t) => [...t]).filter((t) => [...t].length > prefixTokenLength + 2 && /^[a-z]+$/.test(t))
    const longWords = ['retinopath', 'retinoblastom', 'retinopathiex', 'retinopathie', ...new Set(fhirDisplays.slice(0, 6).map((t) => t.slice(0, prefixTokenLength + 2)))]
    for (const q of [...longWords, 'retin', `retinopath ${fhirDisplays[0]}`]) {
      const got = await search(q, a.patient.token)
      const want = expected(q.split(' '))
      assert.deepEqual(got.records.map((r) => r.recordId).sort(), want, q)
      assert.equal(got.total, want.length, q)
    }
    assert.deepEqual((await search('retinopath', a.patient.token)).records.map((r) => r.recordId), [ids.get('a.txt')])
    assert.deepEqual((await search('retinoblast', a.patient.token)).records.map((r) => r.recordId), [ids.get('b.txt')])
    assert.equal((await search('retinopathiex', a.patient.token)).total, 0)
    assert.equal((await search('retin', a.patient.token)).total, 2)
  })

  it('with the term worker gone mid-life, uploads still succeed and are found by their content terms (extracted on the calling thread); started again, the same on its thread', async () => {
    const worker = node.node.services.termWorker as TermWorker
    const bundle = files.find((f) => f.includes('/fhir/Bibi'))!
    const ccda = files.find((f) => f.endsWith('.xml'))!
    const dicom = files.find((f) => f.endsWith('CT_small.dcm'))!
    const upload = async (f: string, label: string) => {
      const up = await api.upload(a.doctor.token, a.patient.email, `${label}.bin`, readFileSync(f), { 'content-type': mediaType(f), 'x-medledger-tags': label })
      assert.equal(up.status, 201, JSON.stringify(up.body))
      ids.set(`${f}#${label}`, up.body.recordId)
      terms.set(`${f}#${label}`, new Set([...extractContentTerms(readFileSync(f)), ...extractLabelTerms(`${label}.bin`, [label])]))
      return up.body.recordId as string
    }
    const found = async (q: string, id: string) => {
      const got = (await search(q, a.patient.token)).records.map((r) => r.recordId).sort()
      assert.deepEqual(got, expected(q.split(' ')), q)
      assert.ok(got.includes(id), q)
    }
    await worker.close()
    assert.equal(worker.threadId, undefined)
    const condition = (JSON.parse(readFileSync(bundle, 'utf8')).entry as { resource: any }[]).map((e) => e.resource).find((r) => r.resourceType === 'Condition')
    const word = (condition.code.coding[0].display as string).toLowerCase().match(/[a-z]{4,}/)![0]
    await found(`ohnethread ${word}`, await upload(bundle, 'ohnethread'))
    await found('ohnethread allergies', await upload(ccda, 'ohnethread'))
    worker.start()
    while (worker.threadId === undefined) await new Promise((r) => setTimeout(r, 10))
    await found('mitthread ct', await upload(dicom, 'mitthread'))
    await found(`mitthread ${word}`, await upload(bundle, 'mitthread'))
  })
})
