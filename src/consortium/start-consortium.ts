import { bytesToHex, type Address } from 'viem'
import { getMeta } from '../db/open-database.ts'
import { FOLLOW_FROM, nodeHospital } from '../accounts/node-hospital.ts'
import { hashSha256 } from '../crypto/hashes.ts'
import { readMembers } from '../ledger/registry/read-members.ts'
import { sendNodeInfo } from '../ledger/registry/send-node-info.ts'
import { readIsMember } from '../ledger/registry/read-is-member.ts'
import { registerAccount } from '../ledger/register-account.ts'
import { registryAbi } from '../ledger/abis.ts'
import { readContract } from '../ledger/read-contract.ts'
import { keySchemeId } from '../crypto/key-wrap.ts'
import { unlockHospital } from '../accounts/hospital-keys.ts'
import { startFollower, type Follower, type FollowerStatus } from './follower.ts'
import { startReplicator, type MemberNode, type Replicator, type ReplicationStatus } from './replicator.ts'
import { consortiumHandlers } from './ledger-events.ts'
import { startExportWorker } from '../consent/export-jobs.ts'
import { erasureHandlers } from './erasure-events.ts'
import type { AccountRow } from '../accounts/account.ts'
import type { HospitalRow } from '../accounts/hospital.ts'
import type { Services } from '../services.ts'

export interface ConsortiumStatus {
  registry: Address
  /** The hospital this node serves (its own ledger identity), when it has one. */
  hospitalAddress: Address | null
  /** Whether that hospital is a member of the consortium. */
  admitted: boolean
  ipfsPeerId: string | null
  /** Multiaddrs other members dial to reach this node's IPFS. */
  ipfsAddrs: string[]
  /** Peer ids this node is connected to. */
  peers: string[]
  follow: FollowerStatus
  replication: ReplicationStatus | null
}

export interface Consortium {
  status(): Promise<ConsortiumStatus>
  /** Re-reads the member list now (after an admission or a vote, instead of waiting for the event). */
  refresh(): Promise<void>
  follower: Follower
  stop(): Promise<void>
}

/** The libp2p peer id at the end of a multiaddr (`…/p2p/<id>`), or null. */
export function peerIdOf(addr: string): string | null {
  const m = /\/p2p\/([^/]+)$/.exec(addr)
  return m ? m[1] : null
}

type Network = Services['ipfs']['network']

/**
 * Runs this node's part in the consortium: follows the ledger's events from where it stopped,
 * keeps its share of the members' records (when peered), finishes its hospital's admission
 * once the members admit it (registers the local admin as the hospital's staff, publishes the
 * node's IPFS addresses), and keeps the IPFS allow-list equal to the admitted members' nodes.
 */
export async function startConsortium(s: Services, { replicas }: { replicas: number }): Promise<Consortium> {
  const network = s.ipfs.network
  const replicator: Replicator | undefined = network ? startReplicator(s, { replicas, peerId: network.peerId }) : undefined
  const refresher = coalesced(() => refreshOnce(s, network, replicator))
  const refresh = refresher.run
  // The handlers read IPFS through a block store whose waits end when the consortium stops: a
  // retry waiting up to followRetryMs for a block does not hold the node's stop (the follower
  // leaves that event as a crash would, to be applied after the restart).
  const stopping = new AbortController()
  const hs: Services = { ...s, ipfs: { ...s.ipfs, blockstore: endingWith(s.ipfs.blockstore, stopping.signal) } }
  const handle = consortiumHandlers(hs, { replicator, onMembership: refresh })
  const fromBlock = Number((await getMeta(s.db, FOLLOW_FROM)) ?? '0')
  // A node with networking but no peer connected (one joining, before the members admit it) finds only local blocks: the follower does not wait for others.
  const reachable = () => network === undefined || network.peers().length > 0
  const follower = await startFollower(s, {
    handlers: [handle, erasureHandlers(hs)], fromBlock, reachable, signal: stopping.signal, retryFetchMs: s.config.followRetryMs,
  })
  // Study exports this node's hospitals answer, queued by the follower and made off its path.
  const exportParts = startExportWorker(s)
  await refresh().catch((err: unknown) => s.log('warn', `consortium: ${(err as Error).message}`))
  // Admission and node info may change while no event of ours is pending (e.g. a peer restarted
  // on a new port): a slow periodic refresh keeps the allow-list honest.
  const timer = setInterval(() => { refresh().catch((err: unknown) => s.log('warn', `consortium: ${(err as Error).message}`)) }, 10_000)

  return {
    follower,
    refresh,
    status: () => consortiumStatus(s, { network, follower, replicator }),
    async stop() {
      clearInterval(timer)
      stopping.abort()
      await exportParts.stop()
      await follower.stop()
      await replicator?.stop()
      await refresher.settled()
    },
  }
}

/** `blockstore` whose every `get` also ends when `signal` aborts, beside the caller's own signal. */
function endingWith(blockstore: Blockstore, signal: AbortSignal): Blockstore {
  const get: Blockstore['get'] = (cid, options = {}) => blockstore.get(cid, { ...options, signal: options.signal === undefined ? signal : AbortSignal.any([options.signal, signal]) })
  return new Proxy(blockstore, {
    get(target, prop) {
      if (prop === 'get') return get
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

type Blockstore = Services['ipfs']['blockstore']

/**
 * Runs `once` so that calls never overlap: a call made while a run is under way is answered by
 * that run, followed by one more run (what it asked for may have changed after the run began).
 */
function coalesced(once: () => Promise<void>): { run: () => Promise<void>; settled: () => Promise<void> } {
  let running: Promise<void> | undefined
  let again = false
  const run = async (): Promise<void> => {
    if (running) { again = true; return running }
    running = (async () => {
      do {
        again = false
        await once()
      } while (again)
    })().finally(() => { running = undefined })
    return running
  }
  return { run, settled: async () => { await running?.catch(() => {}) } }
}

/** One pass: admissions finished, admins registered, node info published, the peer set and placement re-read. */
async function refreshOnce(s: Services, network: Network, replicator: Replicator | undefined): Promise<void> {
  const applied = await s.db.all<HospitalRow>(`SELECT * FROM hospitals WHERE state = 'applied'`)
  for (const h of applied) await finishAdmission(s, h)
  await registerAdmins(s)
  let members = await readMembers(s.ledger)
  if (await publishNodeInfo(s, network, members)) members = await readMembers(s.ledger)
  const nodes: MemberNode[] = members.map((m) => ({ hospital: m.address, peerId: m.addrs.map(peerIdOf).find((p) => p !== null) ?? null }))
  if (network) {
    network.setMembers(members.flatMap((m) => m.addrs).filter((addr) => peerIdOf(addr) !== network.peerId))
  }
  await replicator?.setMembers(nodes)
}

async function finishAdmission(s: Services, h: HospitalRow): Promise<void> {
  if (!(await readIsMember(s.ledger, { hospital: h.address as Address }))) return
  await s.db.run(`UPDATE hospitals SET state = 'active' WHERE id = ? AND state = 'applied'`, h.id)
  s.log('info', `consortium: ${h.name} (${h.address}) was admitted`)
}

/** The node's admin acts for its hospital as staff, registered from the hospital's own key (once). */
async function registerAdmins(s: Services): Promise<void> {
  const h = await nodeHospital(s)
  if (!h || h.state !== 'active' || h.sealed_secrets === '') return
  const admins = await s.db.all<AccountRow>(`SELECT * FROM accounts WHERE role = 'admin' AND hospital_id = ? AND state = 'active'`, h.id)
  for (const admin of admins) {
    const onChain = await readContract(s.ledger, { address: s.ledger.contracts.registry, abi: registryAbi, functionName: 'accountOf', args: [admin.address as Address] })
    if (Number(onChain.role) !== 0) continue
    await registerAccount(s.ledger, {
      registrar: (await unlockHospital(s, h.id)).keys.ledger,
      account: admin.address as Address,
      role: 'staff',
      hospital: h.address as Address,
      keyScheme: keySchemeId(admin.key_scheme),
      encryptionKey: bytesToHex(hashSha256(new Uint8Array(admin.public_key))),
    })
    s.log('info', `consortium: ${admin.email} registered as staff of ${h.name}`)
  }
}

/** Publishes this node's addresses for each of its member hospitals whose node info differs; true when it sent any. */
async function publishNodeInfo(s: Services, network: Network, members: Awaited<ReturnType<typeof readMembers>>): Promise<boolean> {
  if (!network) return false
  let sent = false
  const addrs = network.addrs().slice(0, 8)
  const own = await s.db.all<HospitalRow>(`SELECT * FROM hospitals WHERE state = 'active' AND sealed_secrets <> ''`)
  for (const h of own) {
    const m = members.find((x) => x.address.toLowerCase() === h.address)
    if (!m) continue
    if (m.name === h.name && m.addrs.length === addrs.length && m.addrs.every((x, i) => x === addrs[i])) continue
    const { keys } = await unlockHospital(s, h.id)
    await sendNodeInfo(s.ledger, { hospital: keys.ledger, name: h.name, addrs })
    sent = true
  }
  return sent
}

async function consortiumStatus(s: Services, { network, follower, replicator }: { network: Network; follower: Follower; replicator?: Replicator }): Promise<ConsortiumStatus> {
  const h = await nodeHospital(s)
  return {
    registry: s.ledger.contracts.registry,
    hospitalAddress: (h?.address as Address | undefined) ?? null,
    admitted: h ? await readIsMember(s.ledger, { hospital: h.address as Address }) : false,
    ipfsPeerId: network?.peerId ?? null,
    ipfsAddrs: network?.addrs() ?? [],
    peers: network?.peers() ?? [],
    follow: follower.status(),
    replication: replicator ? await replicator.status() : null,
  }
}
