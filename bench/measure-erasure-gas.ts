import { keccak256, toHex, zeroHash, type Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { recordLedgerAbi } from '../src/ledger/abis.ts'
import { noFees, withLedgerGasChain, type BenchWallet } from './ledger-gas-chain.ts'
export interface MeasureErasureGasResult {
  /** gasUsed of `RecordLedger.requestErasure` (the patient asks, for a record anchored alone), the 21,000 base included. */
  erasureRequest: number
  /** gasUsed of `RecordLedger.rejectErasure` (staff of the record's hospital refuse, with a reason hash). */
  erasureReject: number
  /** gasUsed of `RecordLedger.confirmErasure` (staff confirm: ErasureConfirmed and the RecordErased tombstone). */
  erasureConfirm: number
}

/**
 * Gas of the erasure actions a person triggers, on a fresh anvil with the compiled Registry and
 * RecordLedger: one hospital, its staff, a doctor and a patient; the doctor anchors a record, the
 * patient asks to erase it, staff reject; the patient asks again, staff confirm. Each figure is
 * the receipt's gasUsed.
 * @throws Error when a transaction fails.
 */
export async function measureErasureGas(): Promise<MeasureErasureGasResult> {
  return withLedgerGasChain('erasure', { staff: 1, doctor: 2, patient: 3 }, async ({ hospital, accounts: { staff, doctor, patient }, ledger, mined }) => {
    const send = (who: BenchWallet | undefined, functionName: string, args: readonly unknown[]) => mined(who!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName, args, ...noFees } as never))
    const leaf = { recordId: generatePrivateKey(), patient: patient!.account.address, author: doctor!.account.address, hospital: hospital!.account.address, digest: keccak256(toHex('ciphertext')), envelopes: keccak256(toHex('envelopes')) }
    await send(doctor, 'anchor', [leaf.recordId, leaf.patient, leaf.hospital, leaf.digest, leaf.envelopes])
    const ask = (id: Hex) => send(patient, 'requestErasure', [id, leaf, zeroHash, [], '0x', keccak256(toHex(`reason ${id}`))])
    const first = generatePrivateKey()
    const request = await ask(first)
    const reject = await send(staff, 'rejectErasure', [first, keccak256(toHex('retention'))])
    const second = generatePrivateKey()
    await ask(second)
    const confirm = await send(staff, 'confirmErasure', [second])
    return { erasureRequest: Number(request.gasUsed), erasureReject: Number(reject.gasUsed), erasureConfirm: Number(confirm.gasUsed) }
  })
}
