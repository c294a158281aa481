import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { consentAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'

export interface MeasureEmergencyShareGasResult {
  /** gasUsed of `Consent.releaseEmergencyShare` (one hospital releases its shares to the doctor), the 21,000 base included. */
  emergencyShareRelease: number
  /** gasUsed of `Consent.moveEmergencyShares` (one record from before threshold break-glass moved to shares). */
  emergencySharesMove: number
  /** gasUsed of `Registry.rotateEmergencyKey` (a hospital retires its emergency key). */
  emergencyKeyRotation: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas of threshold break-glass on a fresh anvil with the compiled Registry and Consent: three
 * member hospitals, a doctor and a patient; the doctor declares an emergency and the third
 * hospital releases its shares (the figure: a later release, as all but the first are); a
 * record is moved to shares and the hospital's emergency key rotated. Each figure is the
 * receipt's gasUsed.
 * @throws Error when a transaction fails.
 */
export async function measureEmergencyShareGas(): Promise<MeasureEmergencyShareGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-shares-'))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const [admin, a, b, c, doctor, patient] = [wallet(), wallet(), wallet(), wallet(), wallet(), wallet()]
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
    const reg = (by: typeof admin, functionName: string, args: readonly unknown[]) => mined(by!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never))
    const key = (label: string) => keccak256(toHex(label))
    await reg(admin, 'addHospital', [a!.account.address, 1, key('a')])
    await reg(admin, 'addHospital', [b!.account.address, 1, key('b')])
    await reg(a, 'proposeHospital', [c!.account.address, 1, key('c')])
    await reg(a, 'voteOnHospital', [c!.account.address, true])
    await reg(b, 'voteOnHospital', [c!.account.address, true])
    for (const [who, role] of [[doctor!, 2], [patient!, 3]] as const) await reg(admin, 'registerAccount', [who.account.address, role, a!.account.address, 1, key('person')])
    const write = (by: typeof admin, functionName: string, args: readonly unknown[]) => mined(by!.writeContract({ address: consent, abi: consentAbi, functionName, args, ...noFees } as never))
    const emergencyId = generatePrivateKey()
    await write(doctor, 'declareEmergency', [emergencyId, patient!.account.address, key('reason'), 3600n])
    await write(a, 'releaseEmergencyShare', [emergencyId, key('shares a')])
    const release = await write(c, 'releaseEmergencyShare', [emergencyId, key('shares c')])
    const move = await write(a, 'moveEmergencyShares', [generatePrivateKey(), key('moved shares')])
    const rotate = await reg(a, 'rotateEmergencyKey', [key('a2')])
    return { emergencyShareRelease: Number(release.gasUsed), emergencySharesMove: Number(move.gasUsed), emergencyKeyRotation: Number(rotate.gasUsed) }
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}

