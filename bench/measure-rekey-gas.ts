import { zeroHash } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { recordLedgerAbi } from '../src/ledger/abis.ts'
import { noFees, withLedgerGasChain } from './ledger-gas-chain.ts'
export interface MeasureRekeyGasResult {
  /** gasUsed of the patient's `supersede` of a record anchored alone (a re-key's anchor), the 21,000 base included. */
  rekey: number
  /** gasUsed of the patient's `allowRekey` (leave for the author to re-key once). */
  rekeyLeave: number
  /** gasUsed of the author's `supersede` with that leave. */
  rekeyByAuthor: number
}

/**
 * Gas of re-keying (issue 13 item 2) on a fresh anvil with the compiled Registry and RecordLedger:
 * a hospital, a doctor and a patient; a record anchored alone by the doctor, then superseded by the
 * patient; another one superseded by the doctor after the patient's `allowRekey`.
 * @throws Error when a transaction fails.
 */
export async function measureRekeyGas(): Promise<MeasureRekeyGasResult> {
  return withLedgerGasChain('rekey', { doctor: 2, patient: 3 }, async ({ hospital, accounts: { doctor, patient }, ledger, mined }) => {
    const anchored = async () => {
      const old = { recordId: generatePrivateKey(), patient: patient!.account.address, author: doctor!.account.address, hospital: hospital!.account.address, digest: generatePrivateKey(), envelopes: generatePrivateKey() }
      await mined(doctor!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName: 'anchor', args: [old.recordId, old.patient, old.hospital, old.digest, old.envelopes], ...noFees }))
      return old
    }
    const supersede = async (by: typeof doctor, old: Awaited<ReturnType<typeof anchored>>) => Number((await mined(by!.writeContract({
      address: ledger, abi: recordLedgerAbi, functionName: 'supersede', args: [old, zeroHash, [], '0x', generatePrivateKey(), generatePrivateKey(), generatePrivateKey()], ...noFees,
    }))).gasUsed)
    const rekey = await supersede(patient, await anchored())
    const second = await anchored()
    const rekeyLeave = Number((await mined(patient!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName: 'allowRekey', args: [second.recordId], ...noFees }))).gasUsed)
    const rekeyByAuthor = await supersede(doctor, second)
    return { rekey, rekeyLeave, rekeyByAuthor }
  })
}
