import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, keccak256, toHex, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { careTeamsAbi, consentAbi, registryAbi } from '../src/ledger/abis.ts'
import { startAnvil } from '../src/ledger/anvil.ts'
import { loadArtifacts } from '../src/ledger/artifacts.ts'
import { purposes } from '../src/ledger/purposes.ts'

export interface MeasureTeamGasResult {
  /** gasUsed of `Consent.grantTeam` (a patient grants a care team all records), the 21,000 base included. */
  teamGrant: number
  /** gasUsed of `CareTeams.addMember` (the hospital's staff add a doctor). */
  teamAddMember: number
  /** gasUsed of `CareTeams.removeMember` (a doctor removed, the team key's next epoch on chain). */
  teamRemoveMember: number
  /** gasUsed of a member's read logged alone (`logAccess`, purpose team). */
  teamAuditRead: number
}

const noFees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n } as const

/**
 * Gas of the care-team actions a person triggers, on a fresh anvil with the compiled Registry,
 * Consent and CareTeams (linked): one hospital, its staff, two doctors and a patient; the staff
 * create a team and add the doctors, the patient grants the team, a member's read is logged, a
 * member is removed. Each figure is the receipt's gasUsed.
 * @throws Error when a transaction fails.
 */
export async function measureTeamGas(): Promise<MeasureTeamGasResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-teams-'))
  const anvil = await startAnvil({ home })
  try {
    const chain = defineChain({ id: anvil.chainId, name: 'bench', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.rpcUrl] } } })
    const client = createPublicClient({ chain, transport: http(), pollingInterval: 50 })
    const wallet = () => createWalletClient({ account: privateKeyToAccount(generatePrivateKey()), chain, transport: http() })
    const [admin, hospital, staff, doctor, doctor2, patient] = [wallet(), wallet(), wallet(), wallet(), wallet(), wallet()]
    const mined = async (hash: Promise<Hex>) => {
      const receipt = await client.waitForTransactionReceipt({ hash: await hash })
      if (receipt.status !== 'success') throw new Error(`transaction ${receipt.transactionHash} reverted`)
      return receipt
    }
    const { contracts } = loadArtifacts()
    const deploy = async (name: 'Registry' | 'Consent' | 'RecordLedger' | 'CareTeams', args: readonly unknown[]): Promise<Address> =>
      (await mined(admin!.deployContract({ abi: contracts[name]!.abi, bytecode: contracts[name]!.bytecode, args, ...noFees }))).contractAddress!
    const registry = await deploy('Registry', [admin!.account.address])
    const consent = await deploy('Consent', [registry])
    const teams = await deploy('CareTeams', [registry])
    const reg = (functionName: string, args: readonly unknown[]) => mined(admin!.writeContract({ address: registry, abi: registryAbi, functionName, args, ...noFees } as never))
    await reg('linkCareTeams', [teams])
    const key = keccak256(toHex('bench key'))
    await reg('addHospital', [hospital!.account.address, 1, key])
    for (const [who, role] of [[staff!, 1], [doctor!, 2], [doctor2!, 2], [patient!, 3]] as const) await reg('registerAccount', [who.account.address, role, hospital!.account.address, 1, key])
    const teamId = generatePrivateKey()
    const team = (functionName: string, args: readonly unknown[]) => mined(staff!.writeContract({ address: teams, abi: careTeamsAbi, functionName, args, ...noFees } as never))
    await team('createTeam', [teamId, hospital!.account.address, keccak256(toHex('team key 1'))])
    const add = await team('addMember', [teamId, doctor!.account.address])
    await team('addMember', [teamId, doctor2!.account.address])
    const grant = await mined(patient!.writeContract({ address: consent, abi: consentAbi, functionName: 'grantTeam', args: [teamId, 30n * 86_400n, keccak256(toHex('envelopes'))], ...noFees }))
    const read = await mined(doctor!.writeContract({ address: consent, abi: consentAbi, functionName: 'logAccess', args: [keccak256(toHex('record')), patient!.account.address, purposes.team, teamId], ...noFees }))
    const remove = await team('removeMember', [teamId, doctor2!.account.address, keccak256(toHex('team key 2'))])
    return { teamGrant: Number(grant.gasUsed), teamAddMember: Number(add.gasUsed), teamRemoveMember: Number(remove.gasUsed), teamAuditRead: Number(read.gasUsed) }
  } finally {
    await anvil.stop()
    await rm(home, { recursive: true, force: true })
  }
}
