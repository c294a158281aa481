import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordLedgerAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'
import { leafHash, merkleTree, recordTypedData, type SignedLeaf } from '../src/ledger/anchor-batch.ts'

export interface MeasureBatchGasResult {
  /** gasUsed of one `anchorBatch` of `records` leaves, divided by `records`. */
  perRecord: number
  /** gasUsed of that transaction, the 21,000 base included. */
  batch: number
  records: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas per record when `records` records share one root: a fresh anvil with the compiled
 * Registry and RecordLedger, a member hospital, one doctor and one patient; `records` leaves
 * signed by the doctor (EIP-712), their root anchored by the hospital's account. One leaf is
 * then checked on chain (`checkLeaf`), so the figure is of a batch that verifies.
 * @throws Error when a transaction fails or the leaf does not check.
 */
export async function measureBatchGas({ records = 100 }: { records?: number } = {}): Promise<MeasureBatchGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-batch-'))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = (name: string) => createWalletClient({ account: privateKeyToAccount(keccak256(toHex(`bench ${name} ${generatePrivateKey()}`))), chain, transport: http() })
    const [admin, hospital, doctor, patient] = ['admin', 'hospital', 'doctor', 'patient'].map(wallet)
    const mined = async (hash: Promise<Hex>) => {
      const receipt = await client.waitForTransactionReceipt({ hash: await hash })
      if (receipt.status !== 'success') throw new Error(`transaction ${receipt.transactionHash} reverted`)
      return receipt
    }
    const { contracts } = loadArtifacts()
    const deploy = async (name: 'Registry' | 'RecordLedger', args: readonly unknown[]): Promise<Address> =>
      (await mined(admin!.deployContract({ abi: contracts[name]!.abi, bytecode: contracts[name]!.bytecode, args, ...noFees }))).contractAddress!
    const registry = await deploy('Registry', [admin!.account.address])
    const ledger = await deploy('RecordLedger', [registry])
    const key = keccak256(toHex('bench key'))
    await mined(admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'addHospital', args: [hospital!.account.address, 1, key], ...noFees }))
    for (const [who, role] of [[doctor!, 2], [patient!, 3]] as const) {
      await mined(admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'registerAccount', args: [who.account.address, role, hospital!.account.address, 1, key], ...noFees }))
    }
    const leaves: SignedLeaf[] = []
    for (let i = 0; i < records; i++) {
      const f = { recordId: generatePrivateKey(), patient: patient!.account.address, hospital: hospital!.account.address, digest: generatePrivateKey(), envelopes: generatePrivateKey() }
      const signature = await doctor!.account.signTypedData(recordTypedData({ chainId: anvil.chainId, contracts: { registry, recordLedger: ledger, consent: registry } }, f))
      leaves.push({ ...f, author: doctor!.account.address, signature })
    }
    const { root, proofs } = merkleTree(leaves.map(leafHash))
    const receipt = await mined(hospital!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName: 'anchorBatch', args: [root, keccak256(toHex('manifest')), BigInt(records)], ...noFees }))
    const { signature, ...fields } = leaves[records - 1]!
    const ok = await client.readContract({ address: ledger, abi: recordLedgerAbi, functionName: 'checkLeaf', args: [root, proofs[records - 1]!, fields, signature] })
    if (!ok) throw new Error('the last leaf does not check')
    return { perRecord: Math.round(Number(receipt.gasUsed) / records), batch: Number(receipt.gasUsed), records }
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
