import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordLedgerAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'

export interface MeasureRekeyGasResult {
  /** gasUsed of the patient's `supersede` of a record anchored alone (a re-key's anchor), the 21,000 base included. */
  rekey: number
  /** gasUsed of the patient's `allowRekey` (leave for the author to re-key once). */
  rekeyLeave: number
  /** gasUsed of the author's `supersede` with that leave. */
  rekeyByAuthor: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas of re-keying (issue 13 item 2) on a fresh anvil with the compiled Registry and RecordLedger:
 * a hospital, a doctor and a patient; a record anchored alone by the doctor, then superseded by the
 * patient; another one superseded by the doctor after the patient's `allowRekey`.
 * @throws Error when a transaction fails.
 */
export async function measureRekeyGas(): Promise<MeasureRekeyGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-rekey-'))
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
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
