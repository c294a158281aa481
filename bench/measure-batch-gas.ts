import { keccak256, toHex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { recordLedgerAbi } from '../src/ledger/abis.ts'
import { leafHash, merkleTree, recordTypedData, type SignedLeaf } from '../src/ledger/anchor-batch.ts'
import { noFees, withLedgerGasChain } from './ledger-gas-chain.ts'
export interface MeasureBatchGasResult {
  /** gasUsed of one `anchorBatch` of `records` leaves, divided by `records`. */
  perRecord: number
  /** gasUsed of that transaction, the 21,000 base included. */
  batch: number
  records: number
}

/**
 * Gas per record when `records` records share one root: a fresh anvil with the compiled
 * Registry and RecordLedger, a member hospital, one doctor and one patient; `records` leaves
 * signed by the doctor (EIP-712), their root anchored by the hospital's account. One leaf is
 * then checked on chain (`checkLeaf`), so the figure is of a batch that verifies.
 * @throws Error when a transaction fails or the leaf does not check.
 */
export async function measureBatchGas({ records = 100 }: { records?: number } = {}): Promise<MeasureBatchGasResult> {
  return withLedgerGasChain('batch', { doctor: 2, patient: 3 }, async ({ chainId, client, hospital, accounts: { doctor, patient }, registry, ledger, mined }) => {
    const leaves: SignedLeaf[] = []
    for (let i = 0; i < records; i++) {
      const f = { recordId: generatePrivateKey(), patient: patient!.account.address, hospital: hospital!.account.address, digest: generatePrivateKey(), envelopes: generatePrivateKey() }
      const signature = await doctor!.account.signTypedData(recordTypedData({ chainId, contracts: { registry, recordLedger: ledger, consent: registry } }, f))
      leaves.push({ ...f, author: doctor!.account.address, signature })
    }
    const { root, proofs } = merkleTree(leaves.map(leafHash))
    const receipt = await mined(hospital!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName: 'anchorBatch', args: [root, keccak256(toHex('manifest')), BigInt(records)], ...noFees }))
    const { signature, ...fields } = leaves[records - 1]!
    const ok = await client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'checkLeaf', args: [root, proofs[records - 1]!, fields, signature] })
    if (!ok) throw new Error('the last leaf does not check')
    return { perRecord: Math.round(Number(receipt.gasUsed) / records), batch: Number(receipt.gasUsed), records }
  })
}
