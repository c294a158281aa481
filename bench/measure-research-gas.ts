import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { registryAbi, researchAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'

export interface MeasureResearchGasResult {
  /** gasUsed of `Research.requestExport` (the researcher asks the home nodes for an export across nodes). */
  researchExportRequest: number
  /** gasUsed of `Research.submitExportPart` (one member hospital's part: digest and counts). */
  researchExportPart: number
  /** gasUsed of `Research.recordExport` (the researcher records the merged export), for comparison. */
  researchExportRecord: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas of a study export across nodes, on a fresh anvil with the compiled Registry and Research:
 * two member hospitals, a researcher of the first with an approved study; the researcher requests
 * an export, the second hospital submits its part, the researcher records the export. Each figure
 * is the receipt's gasUsed (the 21,000 base included).
 * @throws Error when a transaction fails.
 */
export async function measureResearchGas(): Promise<MeasureResearchGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-research-'))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const [admin, hospitalA, hospitalB, researcher] = [wallet(), wallet(), wallet(), wallet()]
    const mined = async (hash: Promise<Hex>) => {
      const receipt = await client.waitForTransactionReceipt({ hash: await hash })
      if (receipt.status !== 'success') throw new Error(`transaction ${receipt.transactionHash} reverted`)
      return receipt
    }
    const { contracts } = loadArtifacts()
    const deploy = async (name: 'Registry' | 'Research', args: readonly unknown[]): Promise<Address> =>
      (await mined(admin!.deployContract({ abi: contracts[name]!.abi, bytecode: contracts[name]!.bytecode, args, ...noFees }))).contractAddress!
    const registry = await deploy('Registry', [admin!.account.address])
    const research = await deploy('Research', [registry])
    const reg = (functionName: string, args: readonly unknown[]) => mined(admin!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never))
    const key = keccak256(toHex('bench key'))
    for (const h of [hospitalA!, hospitalB!]) await reg('addHospital', [h.account.address, 1, key])
    await reg('registerAccount', [researcher!.account.address, 4, hospitalA!.account.address, 1, key])
    const call = (from: typeof admin, functionName: string, args: readonly unknown[]) => mined(from!.writeContract({ address: research, abi: researchAbi, functionName, args, ...noFees } as never))
    const [studyId, exportId] = [generatePrivateKey(), generatePrivateKey()]
    await call(researcher, 'proposeStudy', [studyId, keccak256(toHex('protocol'))])
    await call(admin, 'decideStudy', [studyId, true])
    const request = await call(researcher, 'requestExport', [studyId, exportId])
    const part = await call(hospitalB, 'submitExportPart', [exportId, keccak256(toHex('part')), 12, 3400])
    const record = await call(researcher, 'recordExport', [studyId, 24, 6800, keccak256(toHex('manifest'))])
    return { researchExportRequest: Number(request.gasUsed), researchExportPart: Number(part.gasUsed), researchExportRecord: Number(record.gasUsed) }
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
