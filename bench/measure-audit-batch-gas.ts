import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concat, createPublicClient, createWalletClient, defineChain, http, keccak256, pad, toHex, zeroHash, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { consentAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'
import { purposes } from '../src/ledger/purposes.ts'
import { accessEntryTypes, consentDomain, type SignedAccessEntry } from '../src/ledger/consent/sign-access-entry.ts'

export interface MeasureAuditBatchGasResult {
  /** gasUsed of one `logAccessBatch` of `entries` reads, divided by `entries`, rounded. */
  perEntry: number
  /** gasUsed of that transaction, the 21,000 base included. */
  batch: number
  /** gasUsed of a batch of one entry (a read when no batch is in flight). */
  single: number
  entries: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas per read entry when `entries` reads share one `logAccessBatch`: a fresh anvil with the
 * compiled Registry and Consent, two member hospitals, a doctor of one reading under a grant
 * from a patient of the other (as `gas.auditRead`); each entry signed by the doctor (EIP-712),
 * the batch sent by the doctor's hospital's account. Every entry is then found logged on chain.
 * @throws Error when a transaction fails or an entry is not logged.
 */
export async function measureAuditBatchGas({ entries = 100 }: { entries?: number } = {}): Promise<MeasureAuditBatchGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-audit-'))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const [admin, hospitalA, hospitalB, doctor, patient] = [wallet(), wallet(), wallet(), wallet(), wallet()]
    const mined = async (hash: Promise<Hex>) => {
      const receipt = await client.waitForTransactionReceipt({ hash: await hash })
      if (receipt.status !== 'success') throw new Error(`transaction ${receipt.transactionHash} reverted`)
      return receipt
    }
    const { contracts } = loadArtifacts()
    const deploy = async (name: 'Registry' | 'Consent', args: readonly unknown[]): Promise<Address> =>
      (await mined(admin!.deployContract({ abi: contracts[name]!.abi, bytecode: contracts[name]!.bytecode, args, ...noFees }))).contractAddress!
    const registry = await deploy('Registry', [admin!.account.address])
    const consent = await deploy('Consent', [registry])
    const key = keccak256(toHex('bench key'))
    for (const h of [hospitalA!, hospitalB!]) await mined(admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'addHospital', args: [h.account.address, 1, key], ...noFees }))
    for (const [who, role, h] of [[doctor!, 2, hospitalB!], [patient!, 3, hospitalA!]] as const) {
      await mined(admin!.writeContract({ address: registry, abi: registryAbi, functionName: 'registerAccount', args: [who.account.address, role, h.account.address, 1, key], ...noFees }))
    }
    const ref = generatePrivateKey()
    await mined(doctor!.writeContract({ address: consent, abi: consentAbi, functionName: 'requestAccess', args: [ref, patient!.account.address, zeroHash, purposes.grant, key, 86_400n], ...noFees }))
    await mined(patient!.writeContract({ address: consent, abi: consentAbi, functionName: 'approve', args: [ref, zeroHash, 86_400n, key], ...noFees }))
    const now = (await client.getBlock({ blockTag: 'latest' })).timestamp
    // Entry ids as the node gives them: the sending hospital's address, then its next number.
    let number = 256n
    const sign = async (): Promise<SignedAccessEntry> => {
      const entry = { entryId: concat([hospitalB!.account.address.toLowerCase() as Hex, pad(toHex(number++), { size: 12 })]), recordId: generatePrivateKey(), patient: patient!.account.address, purpose: purposes.grant, ref, readAt: now }
      const signature = await doctor!.account.signTypedData({ domain: consentDomain({ chainId: anvil.chainId, consent }), types: accessEntryTypes, primaryType: 'AccessEntry', message: entry })
      return { ...entry, reader: doctor!.account.address, signature }
    }
    const send = async (batch: SignedAccessEntry[]) => (await mined(hospitalB!.writeContract({ address: consent, abi: consentAbi, functionName: 'logAccessBatch', args: [batch], ...noFees }))).gasUsed
    const single = await send([await sign()])
    const batch = await Promise.all(Array.from({ length: entries }, sign))
    const gas = await send(batch)
    for (const e of [batch[0]!, batch[entries - 1]!]) {
      if (!(await client.readContract({ address: consent, abi: consentAbi, functionName: 'isAccessLogged', args: [e.entryId] }))) throw new Error(`entry ${e.entryId} not logged`)
    }
    return { perEntry: Math.round(Number(gas) / entries), batch: Number(gas), single: Number(single), entries }
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
