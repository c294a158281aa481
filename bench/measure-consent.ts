import { createPublicClient, http, type Address, type Hex } from 'viem'
import { consentAbi } from '../src/ledger/abis.ts'
import type { ApiClient } from './api-client.ts'
import type { BenchAccounts } from './set-up-accounts.ts'
import type { UploadedRecord } from './upload-record-over-http.ts'
import { percentiles, type Percentiles } from './measure-latency.ts'

export interface MeasureConsentResult {
  gas: { request: number; approve: number; revoke: number; share: number; emergency: number; auditRead: number }
  /** Extra context: the hospital's key release after a break-glass. */
  gasEmergencyRelease: number
  grantedRead1MiB: Percentiles
  /** Records whose keys the approval re-wrapped. */
  grantedRecords: number
}

/**
 * Consent through the API, as users would: a doctor of a second hospital asks the patient for
 * all records, the patient approves, the doctor reads 1 MiB records under the grant (each read
 * logged: one alone as the doctor's own `logAccess`, those meanwhile in a batch), the patient revokes; the patient shares one record by
 * token; the doctor opens a break-glass. Gas comes from each transaction's receipt.
 * @throws Error when a call fails or a receipt is missing.
 */
export async function measureConsent(api: ApiClient, accounts: BenchAccounts, { adminEmail, adminPassword, uploads, iterations, warmups, chainRpc, consent }: {
  adminEmail: string; adminPassword: string; uploads: UploadedRecord[]; iterations: number; warmups: number; chainRpc: string; consent: Address
}): Promise<MeasureConsentResult> {
  const client = createPublicClient({ transport: http(chainRpc) })
  const gasOf = async (hash: Hex | null | undefined) => {
    if (!hash) throw new Error('no transaction hash in the answer')
    const r = await client.getTransactionReceipt({ hash })
    if (r.status !== 'success') throw new Error(`${hash} reverted`)
    return Number(r.gasUsed)
  }
  const login = async (email: string, password: string) => (await api.json<{ token: string }>('POST', '/auth/login', { body: { email, password } })).token
  const admin = await login(adminEmail, adminPassword)
  const hospital = await api.json<{ id: string }>('POST', '/hospitals', { token: admin, body: { name: 'Bench Second Hospital' } })
  const password = 'bench-password-0123456789'
  const doctor = await api.json<{ account: { address: Address } }>('POST', '/users', { token: admin, body: { role: 'doctor', hospital: hospital.id, email: 'other-doctor@bench.test', name: 'Dr Other', password } })
  const other = await login('other-doctor@bench.test', password)

  const request = await api.json<{ requestId: Hex; requestTx: Hex }>('POST', '/access-requests', { token: other, body: { patient: accounts.patient.address, purpose: 'bench', days: 7 } })
  const approved = await api.json<{ decisionTx: Hex; grantedRecordIds: null }>('POST', `/access-requests/${request.requestId}/approve`, { token: accounts.patient.token, body: {} })

  const readMs: number[] = []
  for (let i = 0; i < warmups + iterations; i++) {
    const { recordId } = uploads[i % uploads.length]
    const started = performance.now()
    const res = await api.raw('GET', `/records/${recordId}`, { token: other })
    const bytes = new Uint8Array(await res.arrayBuffer())
    const ms = performance.now() - started
    if (bytes.length !== 1 << 20) throw new Error(`granted read ${recordId}: ${bytes.length} bytes`)
    if (i >= warmups) readMs.push(ms)
  }
  // `gas.auditRead`: a read logged alone (nothing else in flight), which goes out as the reader's
  // own `logAccess`; reads that arrived while it was in flight went together in a batch.
  const events = await client.getContractEvents({ address: consent, abi: consentAbi, eventName: 'AccessLogged', args: { actor: doctor.account.address }, fromBlock: 0n })
  let logged: (typeof events)[number] | undefined
  for (const e of events) {
    if ((await client.getTransaction({ hash: e.transactionHash })).from.toLowerCase() === doctor.account.address.toLowerCase()) { logged = e; break }
  }
  if (!logged) throw new Error(`no granted read was logged alone from the doctor's key (${events.length} AccessLogged events)`)

  const revoked = await api.json<{ decisionTx: Hex }>('POST', `/access-requests/${request.requestId}/revoke`, { token: accounts.patient.token })
  const share = await api.json<{ txHash: Hex }>('POST', '/shares', { token: accounts.patient.token, body: { recordIds: [uploads[0].recordId], token: true, days: 1, once: true } })
  const emergency = await api.json<{ declareTx: Hex; releaseTx: Hex }>('POST', '/emergencies', { token: other, body: { patient: accounts.patient.address, reason: 'bench emergency' } })
  return {
    gas: {
      request: await gasOf(request.requestTx),
      approve: await gasOf(approved.decisionTx),
      revoke: await gasOf(revoked.decisionTx),
      share: await gasOf(share.txHash),
      emergency: await gasOf(emergency.declareTx),
      auditRead: await gasOf(logged.transactionHash),
    },
    gasEmergencyRelease: await gasOf(emergency.releaseTx),
    grantedRead1MiB: percentiles(readMs),
    grantedRecords: uploads.length,
  }
}
