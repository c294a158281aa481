import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

interface ErasureAnswer {
  erasureId: string
  recordId: string
  status: 'pending' | 'confirmed' | 'rejected'
  patient: { name: string }
  createdAt: string
  requestTx: string | null
  decisionTx: string | null
}

/**
 * `medledger record erase RECORD_ID --reason TEXT`: the patient asks the hospital to erase a
 * record; prints the request as JSON, with `erasureId`, whatever `--json` says.
 * @throws CliError USAGE without RECORD_ID or --reason; the node's code when it refuses.
 */
export async function recordErase(c: Common, id: string | undefined, f: { reason?: string }): Promise<void> {
  if (!id || !f.reason) throw new CliError('USAGE', 'record erase needs RECORD_ID --reason TEXT', 2)
  const r = await signedIn(c).client.json<ErasureAnswer>('POST', `/records/${encodeURIComponent(id)}/erasure`, { reason: f.reason })
  // The issue asks for JSON with erasureId: printed as JSON whatever --json says (as team and study create).
  process.stdout.write(JSON.stringify(r) + '\n')
}

/**
 * `medledger erasure confirm ERASURE_ID` (staff of the record's hospital, or the admin).
 * @throws CliError USAGE without ERASURE_ID; the node's code when it refuses.
 */
export async function erasureConfirm(c: Common, id: string | undefined): Promise<void> {
  if (!id) throw new CliError('USAGE', 'erasure confirm needs ERASURE_ID', 2)
  const r = await signedIn(c).client.json<ErasureAnswer>('POST', `/erasures/${encodeURIComponent(id)}/confirm`)
  c.out.result(r, () => `Erasure ${r.erasureId} confirmed (tx ${r.decisionTx}): record ${r.recordId} is erased on every node.`)
}

/**
 * `medledger erasure reject ERASURE_ID --reason TEXT` (staff of the record's hospital, or the admin).
 * @throws CliError USAGE without ERASURE_ID or --reason; the node's code when it refuses.
 */
export async function erasureReject(c: Common, id: string | undefined, f: { reason?: string }): Promise<void> {
  if (!id || !f.reason) throw new CliError('USAGE', 'erasure reject needs ERASURE_ID --reason TEXT', 2)
  const r = await signedIn(c).client.json<ErasureAnswer>('POST', `/erasures/${encodeURIComponent(id)}/reject`, { reason: f.reason })
  c.out.result(r, () => `Erasure ${r.erasureId} rejected (tx ${r.decisionTx}): record ${r.recordId} stays.`)
}

/**
 * `medledger erasure list [--status pending|confirmed|rejected]`: staff see their hospital's
 * requests, the admin all, a patient their own.
 * @throws CliError USAGE for another --status; the node's code when it refuses.
 */
export async function erasureList(c: Common, f: { status?: string }): Promise<void> {
  if (f.status !== undefined && !['pending', 'confirmed', 'rejected'].includes(f.status)) throw new CliError('USAGE', 'erasure list takes --status pending, confirmed or rejected', 2)
  const r = await signedIn(c).client.json<{ erasures: ErasureAnswer[] }>('GET', `/erasures${f.status ? `?status=${f.status}` : ''}`)
  c.out.result(r, () => r.erasures.map((e) => `${e.erasureId}  ${e.status.padEnd(9)}  record ${e.recordId}  ${e.patient.name}  ${e.createdAt}`).join('\n') || 'No erasure requests.')
}
