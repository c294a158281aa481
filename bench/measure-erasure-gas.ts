import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordLedgerAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'

export interface MeasureErasureGasResult {
  /** gasUsed of `RecordLedger.requestErasure` (the patient asks, for a record anchored alone), the 21,000 base included. */
  erasureRequest: number
  /** gasUsed of `RecordLedger.rejectErasure` (staff of the record's hospital refuse, with a reason hash). */
  erasureReject: number
  /** gasUsed of `RecordLedger.confirmErasure` (staff confirm: ErasureConfirmed and the RecordErased tombstone). */
  erasureConfirm: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas of the erasure actions a person triggers, on a fresh anvil with the compiled Registry and
 * RecordLedger: one hospital, its staff, a doctor and a patient; the doctor anchors a record, the
 * patient asks to erase it, staff reject; the patient asks again, staff confirm. Each figure is
 * the receipt's gasUsed.
 * @throws Error when a transaction fails.
 */
export async function measureErasureGas(): Promise<MeasureErasureGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-erasure-'))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const [admin, hospital, staff, doctor, patient] = [wallet(), wallet(), wallet(), wallet(), wallet()]
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
    const reg = (functionName: string, args: readonly unknown[]) => mined(admin!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never))
    const key = keccak256(toHex('bench key'))
    await reg('addHospital', [hospital!.account.address, 1, key])
    for (const [who, role] of [[staff!, 1], [doctor!, 2], [patient!, 3]] as const) await reg('registerAccount', [who.account.address, role, hospital!.account.address, 1, key])
    const send = (who: typeof admin, functionName: string, args: readonly unknown[]) => mined(who!.writeContract({ address: ledger, abi: recordLedgerAbi, functionName, args, ...noFees } as never))
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
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
