import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { consentAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'

export interface MeasureRecoveryGasResult {
  /** gasUsed of `Registry.proposeRecovery` (staff who verified the patient in person), the 21,000 base included. */
  recoveryPropose: number
  /** gasUsed of `Registry.approveRecovery` (a second staff member: old account retired, new one registered, re-wrap digest in the event). */
  recoveryApprove: number
  /** gasUsed of `Consent.releaseRecoveryShare` (a member hospital releases its shares of the patient's split records for the new key). */
  recoveryShareRelease: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas of a patient account's recovery, on a fresh anvil with the compiled Registry: one hospital,
 * two staff members and a patient; one staff member proposes, the other approves, then the
 * hospital releases its shares for the new key (a Consent on the same Registry). Each figure is
 * the receipt's gasUsed.
 * @throws Error when a transaction fails.
 */
export async function measureRecoveryGas(): Promise<MeasureRecoveryGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-recovery-'))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const [admin, hospital, staff1, staff2, patient, successor] = [wallet(), wallet(), wallet(), wallet(), wallet(), wallet()]
    const mined = async (hash: Promise<Hex>) => {
      const receipt = await client.waitForTransactionReceipt({ hash: await hash })
      if (receipt.status !== 'success') throw new Error(`transaction ${receipt.transactionHash} reverted`)
      return receipt
    }
    const { contracts } = loadArtifacts()
    const registry: Address = (await mined(admin!.deployContract({ abi: contracts.Registry!.abi, bytecode: contracts.Registry!.bytecode, args: [admin!.account.address], ...noFees }))).contractAddress!
    const reg = (who: typeof admin, functionName: string, args: readonly unknown[]) => mined(who!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never))
    const key = keccak256(toHex('bench key'))
    await reg(admin, 'addHospital', [hospital!.account.address, 1, key])
    for (const [who, role] of [[staff1!, 1], [staff2!, 1], [patient!, 3]] as const) await reg(admin, 'registerAccount', [who.account.address, role, hospital!.account.address, 1, key])
    const id = generatePrivateKey()
    const propose = await reg(staff1, 'proposeRecovery', [id, patient!.account.address, successor!.account.address, 1, keccak256(toHex('new key')), keccak256(toHex('verification'))])
    const approve = await reg(staff2, 'approveRecovery', [id, keccak256(toHex('re-wrapped keys'))])
    const consent: Address = (await mined(admin!.deployContract({ abi: contracts.Consent!.abi, bytecode: contracts.Consent!.bytecode, args: [registry], ...noFees }))).contractAddress!
    const release = await mined(hospital!.writeContract({ address: consent, abi: consentAbi, functionName: 'releaseRecoveryShare', args: [id, keccak256(toHex('shares'))], ...noFees }))
    return { recoveryPropose: Number(propose.gasUsed), recoveryApprove: Number(approve.gasUsed), recoveryShareRelease: Number(release.gasUsed) }
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
