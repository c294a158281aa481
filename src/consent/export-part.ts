import type { Address, Hex } from 'viem'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { ensureAccount, publicKeyOf } from '../accounts/directory.ts'
import { readContract } from '../ledger/read-contract.ts'
import { researchAbi } from '../ledger/abis.ts'
import { researchAddress } from '../ledger/research/research-address.ts'
import { sendExportPart } from '../ledger/research/send-export-part.ts'
import { putChunkedBlob } from '../storage/chunked-blob.ts'
import { AppError, isAppError } from '../errors.ts'
import { consentingPatients, deidentifySubjects, type QuasiTuple } from './export-study.ts'
import { sealExportPart } from './export-part-box.ts'
import { findStudy } from './studies.ts'
import type { Services } from '../services.ts'

/** What a home node hands the researcher for one of its hospitals, encrypted for them (JSON). */
export interface ExportPartPayload {
  exportId: Hex
  studyId: Hex
  hospital: Address
  patients: number
  /** The generalized quasi-identifiers of each patient, by pseudonym: k is computed over every part. */
  quasi: QuasiTuple[]
  skippedRecords: number
  /** NDJSON per resource type, DICOM (base64), C-CDA and HL7 v2 files, named as in an export. */
  files: { name: string; content: string; encoding?: 'base64' }[]
}

/**
 * `ExportRequested` (any node's researcher, this node's too): each hospital of this node that is
 * home to patients consenting to the study (this node's copy of the consents names them) asks
 * the chain whose consent is live now, de-identifies those patients' records here — the
 * identified plaintext never leaves this node — encrypts the result for the researcher's
 * registered key, puts it in IPFS and submits its part on chain from the hospital's own account
 * (counts and digest: nothing personal). A hospital with none is not asked and does not answer.
 * Idempotent: a part already on chain (or recorded here) is not made again.
 * @throws AppError UNKNOWN_STUDY (the study not mirrored yet: the export worker retries), RECORD_UNAVAILABLE, LEDGER_*
 */
export async function applyExportRequested(s: Services, e: { exportId: Hex; studyId: Hex; researcher: Address; signal?: AbortSignal }): Promise<number> {
  const exportId = e.exportId.toLowerCase() as Hex
  const hospitals = await s.db.all<{ id: string; address: Address }>(`SELECT id, address FROM hospitals WHERE state = 'active' ORDER BY created_at`)
  let submitted = 0
  for (const h of hospitals) {
    const held = await s.db.get<{ tx_hash: string; digest: Hex }>('SELECT tx_hash, digest FROM study_export_parts WHERE export_id = ? AND hospital_id = ?', exportId, h.id)
    if (held && (held.tx_hash !== '' || await settlePendingPart(s, { exportId, hospital: h, digest: held.digest }))) continue
    const study = await findStudy(s, e.studyId)
    // Only a study held here has consents here; one whose proposal is still in quarantine comes back with it.
    if (!study) throw new AppError('UNKNOWN_STUDY', { details: `study ${e.studyId} of export ${exportId} not held here yet` })
    const { candidates, live } = await consentingPatients(s, study, h.id)
    if (candidates === 0) continue
    const onChain = await readContract(s.ledger, { address: researchAddress(s.ledger), abi: researchAbi, functionName: 'exportPartOf', args: [exportId, h.address] })
    if (!/^0x0+$/.test(onChain.digest)) continue
    const set = await deidentifySubjects(s, { study, subjects: live, signal: e.signal })
    const files = [...set.byType.entries()].sort(([a], [b]) => a.localeCompare(b))
      .map(([type, rs]) => ({ name: `${type}.ndjson`, content: [...rs.values()].map((r) => JSON.stringify(r)).join('\n') + '\n' }))
    const resources = [...set.byType.values()].reduce((n, rs) => n + rs.size, 0)
    const payload: ExportPartPayload = {
      exportId, studyId: study.id, hospital: h.address, patients: live.length, quasi: set.quasi, skippedRecords: set.skippedRecords,
      files: [
        ...files,
        ...[...set.images].map(([name, bytes]) => ({ name, content: Buffer.from(bytes).toString('base64'), encoding: 'base64' as const })),
        ...[...set.documents, ...set.messages].map(([name, content]) => ({ name, content })),
      ],
    }
    const researcher = await ensureAccount(s, e.researcher)
    const sealed = await sealExportPart({
      scheme: researcher.key_scheme, publicKey: await publicKeyOf(s, researcher, e.signal), exportId, hospital: h.address,
      plaintext: new TextEncoder().encode(JSON.stringify(payload)),
    })
    const digest = await putChunkedBlob(s.ipfs, sealed, { signal: e.signal })
    const { keys } = await unlockHospital(s, h.id)
    // Written pending ('' for its transaction, matched by no timeline) before the part is sent, with
    // whose data went into it: a run stopped before the receipt settles it from the chain next time.
    await s.db.transaction(async (tx) => {
      await tx.run(`INSERT INTO study_export_parts (export_id, hospital_id, study_id, digest, patients, resources, tx_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?)`,
        exportId, h.id, study.id, digest, live.length, resources, Date.now())
      for (const p of live) {
        await tx.run('INSERT INTO study_export_part_patients (export_id, hospital_id, patient_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', exportId, h.id, p.id)
      }
    })
    let receipt
    try {
      receipt = await sendExportPart(s.ledger, { hospital: keys.ledger, exportId, digest, patients: live.length, resources, signal: e.signal })
    } catch (err) {
      if (isAppError(err, 'LEDGER_REVERTED')) await dropPart(s, exportId, h.id)
      throw err
    }
    await s.db.run('UPDATE study_export_parts SET tx_hash = ? WHERE export_id = ? AND hospital_id = ?', receipt.transactionHash, exportId, h.id)
    submitted++
  }
  return submitted
}

/**
 * A part written pending by a run that stopped before its receipt: kept (its transaction taken from
 * the journal) when the chain holds that very part, so its patients' timelines show it; else
 * dropped, to be made again. Resolves true when it is kept.
 * @throws AppError LEDGER_UNAVAILABLE while its transaction is still unsettled (the export worker retries)
 */
async function settlePendingPart(s: Services, { exportId, hospital, digest }: { exportId: Hex; hospital: { id: string; address: Address }; digest: Hex }): Promise<boolean> {
  const onChain = await readContract(s.ledger, { address: researchAddress(s.ledger), abi: researchAbi, functionName: 'exportPartOf', args: [exportId, hospital.address] })
  const sent = await s.db.get<{ tx_hash: string; state: string }>(`SELECT tx_hash, state FROM journal WHERE chain_id = ? AND purpose = 'study-export-part' AND ref = ? AND sender = ? AND state <> 'reverted' ORDER BY id DESC LIMIT 1`,
    s.ledger.chainId, exportId, hospital.address.toLowerCase())
  if (onChain.digest.toLowerCase() === digest.toLowerCase() && sent) {
    await s.db.run('UPDATE study_export_parts SET tx_hash = ? WHERE export_id = ? AND hospital_id = ?', sent.tx_hash, exportId, hospital.id)
    return true
  }
  if (sent?.state === 'sent') throw new AppError('LEDGER_UNAVAILABLE', { details: `the part of ${hospital.address} for export ${exportId} is not settled yet` })
  await dropPart(s, exportId, hospital.id)
  return false
}

async function dropPart(s: Pick<Services, 'db'>, exportId: Hex, hospitalId: string): Promise<void> {
  await s.db.run('DELETE FROM study_export_part_patients WHERE export_id = ? AND hospital_id = ?', exportId, hospitalId)
  await s.db.run(`DELETE FROM study_export_parts WHERE export_id = ? AND hospital_id = ? AND tx_hash = ''`, exportId, hospitalId)
}
