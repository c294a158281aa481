import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createApiClient } from './api-client.ts'
import { percentiles } from './measure-latency.ts'
import { benchAccountPassword, setUpAccounts } from './set-up-accounts.ts'
import { startNodeProcess } from './start-node-process.ts'
import { uploadRecordOverHttp } from './upload-record-over-http.ts'
import type { RandomPool } from './random-source.ts'

export interface MeasureScaleParams {
  /** An empty directory: the node's home (SQLite in it). */
  home: string
  pool: RandomPool
  adminEmail: string
  adminPassword: string
  /** Records in the database when listing is measured; all but the patient's 100 are inserted directly. */
  records: number
  /** Bytes uploaded as records of `verifyRecordBytes` each, then checked by `POST /verify { all: true }`. */
  verifyBytes: number
  verifyRecordBytes?: number
  /** GET /records rounds measured (after 3 warm-ups). */
  iterations: number
  progress?: (msg: string) => void
}

export interface MeasureScaleResult {
  scale: { records: number; listPatientP95Ms: number; statusMs: number }
  verifyAllMBps: number
  context: {
    listPatientP50Ms: number
    /** The listing's SQL alone, on the same database (the index path, without decrypting manifests). */
    listPatientSqlP95Ms: number
    verifiedBytes: number
    verifySeconds: number
    insertSeconds: number
  }
}

/**
 * A node with a hospital's archive: first `verifyBytes` of random records uploaded for one
 * patient and checked by `verify --all` (`POST /verify { all: true }` as the admin: every block
 * re-hashed, every anchor checked on chain), then up to 100 records of that patient in all; the
 * node stopped, the other `records` − 100 rows (and a patient account per 100 of them) inserted
 * straight into its SQLite database, the node started again, and the patient's listing
 * (`GET /records?limit=100`) and `GET /status` timed.
 * @throws Error when the node fails or answers wrongly.
 */
export async function measureScale(p: MeasureScaleParams): Promise<MeasureScaleResult> {
  const progress = p.progress ?? (() => {})
  const start = () => startNodeProcess({ home: p.home, adminEmail: p.adminEmail, adminPassword: p.adminPassword })
  let node = await start()
  try {
    let api = createApiClient(node.url)
    const accounts = await setUpAccounts(api, { adminEmail: p.adminEmail, adminPassword: p.adminPassword })
    const login = async (email: string, password: string) => (await api.json<{ token: string }>('POST', '/auth/login', { body: { email, password } })).token
    const recordBytes = p.verifyRecordBytes ?? 64 * 1024 * 1024
    const pieces = Math.max(1, Math.round(p.verifyBytes / recordBytes))
    for (let i = 0; i < pieces; i++) {
      await uploadRecordOverHttp(api, { token: accounts.doctor.token, patient: accounts.patient.email, body: piece(p.pool, recordBytes, i) })
    }
    const admin = await login(p.adminEmail, p.adminPassword)
    const verifyStart = performance.now()
    const verified = await api.json<{ checked: number; intact: number }>('POST', '/verify', { token: admin, body: { all: true } })
    const verifySeconds = (performance.now() - verifyStart) / 1000
    if (verified.checked !== pieces || verified.intact !== pieces) throw new Error(`verify --all: ${JSON.stringify(verified)}`)
    const verifiedBytes = pieces * recordBytes
    progress(`scale: verify --all over ${pieces} records, ${(verifiedBytes / 1e6).toFixed(0)} MB, in ${verifySeconds.toFixed(2)} s`)
    for (let i = pieces; i < 100; i++) {
      await uploadRecordOverHttp(api, { token: accounts.doctor.token, patient: accounts.patient.email, body: randomBytes(4096) })
    }

    await node.stop()
    const insertStart = performance.now()
    const inserted = insertArchive(join(p.home, 'medledger.db'), { patientEmail: accounts.patient.email, records: p.records - 100 })
    const insertSeconds = (performance.now() - insertStart) / 1000
    progress(`scale: ${inserted.records} records (${inserted.patients} patients) inserted into the database in ${insertSeconds.toFixed(1)} s`)
    node = await start()
    api = createApiClient(node.url)
    const patient = await login(accounts.patient.email, benchAccountPassword)

    const listMs: number[] = []
    for (let i = 0; i < 3 + p.iterations; i++) {
      const t0 = performance.now()
      const list = await api.json<{ records: unknown[]; total: number }>('GET', '/records?limit=100', { token: patient })
      const ms = performance.now() - t0
      if (list.records.length !== 100) throw new Error(`the patient's listing has ${list.records.length} records, not 100`)
      if (i >= 3) listMs.push(ms)
    }
    const statusMs: number[] = []
    let counted = 0
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      counted = (await api.json<{ records: number }>('GET', '/status')).records
      statusMs.push(performance.now() - t0)
    }
    if (counted !== p.records) throw new Error(`GET /status counts ${counted} records, not ${p.records}`)
    const list = percentiles(listMs)
    return {
      scale: { records: counted, listPatientP95Ms: list.p95Ms, statusMs: percentiles(statusMs).p50Ms },
      verifyAllMBps: Math.round(verifiedBytes / 1e6 / verifySeconds),
      context: {
        listPatientP50Ms: list.p50Ms,
        listPatientSqlP95Ms: sqlListing(join(p.home, 'medledger.db'), accounts.patient.email, p.iterations),
        verifiedBytes,
        verifySeconds: Math.round(verifySeconds * 100) / 100,
        insertSeconds: Math.round(insertSeconds * 10) / 10,
      },
    }
  } finally {
    await node.stop()
  }
}

function piece(pool: RandomPool, bytes: number, i: number): Uint8Array {
  const out = new Uint8Array(bytes)
  const src = pool.bytes
  for (let at = 0; at < bytes; at += src.length) out.set(src.subarray(0, Math.min(src.length, bytes - at)), at)
  out.set(randomBytes(32), 0) // each record its own bytes
  out[32] = i & 0xff
  return out
}

/**
 * Rows as a hospital's archive would leave them: `records` anchored records of 100 each per
 * made-up patient of the bench hospital, authored by the bench doctor, in one transaction.
 */
function insertArchive(file: string, { patientEmail, records }: { patientEmail: string; records: number }): { records: number; patients: number } {
  const db = new Database(file)
  try {
    const real = db.prepare(`SELECT r.*, a.hospital_id AS patient_hospital FROM records r JOIN accounts a ON a.id = r.patient_id WHERE a.email = ? LIMIT 1`).get(patientEmail) as
      { author_id: string; hospital_id: string; suite: string; patient_hospital: string }
    const account = db.prepare(`INSERT INTO accounts (id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, created_at)
      VALUES (?, ?, ?, 'patient', ?, ?, 'x25519', ?, '', 'active', ?)`)
    const record = db.prepare(`INSERT INTO records (record_id, patient_id, author_id, hospital_id, digest, envelopes, suite, stored_bytes, state, tx_hash, block_number, anchored_at, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 4096, 'anchored', ?, 1, ?, ?)`)
    const hex = (n: number) => `0x${randomBytes(n).toString('hex')}`
    const now = Date.now()
    let patients = 0
    db.transaction(() => {
      let patientId = ''
      for (let i = 0; i < records; i++) {
        if (i % 100 === 0) {
          patientId = `scale-patient-${patients++}`
          account.run(patientId, `${patientId}@scale.test`, `Scale patient ${patients}`, real.patient_hospital, hex(20), Buffer.alloc(32), now)
        }
        record.run(hex(32), patientId, real.author_id, real.hospital_id, hex(32), hex(32), real.suite, hex(32), Math.floor(now / 1000), now - i)
      }
    })()
    return { records, patients }
  } finally {
    db.close()
  }
}

/** p95 of the listing's own query (as list-records runs it for a patient) on the database file. */
function sqlListing(file: string, patientEmail: string, iterations: number): number {
  const db = new Database(file, { readonly: true })
  try {
    const { id } = db.prepare('SELECT id FROM accounts WHERE email = ?').get(patientEmail) as { id: string }
    const q = db.prepare(`SELECT * FROM records WHERE state = 'anchored' AND patient_id = ? ORDER BY created_at DESC, record_id`)
    const ms: number[] = []
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now()
      if (q.all(id).length !== 100) throw new Error('the patient\'s rows are not 100')
      ms.push(performance.now() - t0)
    }
    return percentiles(ms).p95Ms
  } finally {
    db.close()
  }
}
