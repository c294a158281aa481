import '../polyfills.ts'
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, openSync, closeSync, fsyncSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Address } from 'viem'
import { openDatabase, type Db } from '../db/open-database.ts'
import { loadNodeKey } from '../accounts/node-key.ts'
import { startAnvil, type StartAnvilResult } from '../ledger/anvil.ts'
import { serveChainRpc } from '../ledger/serve-chain-rpc.ts'
import { connectLedger, type ContractAddresses, type Ledger } from '../ledger/connect-ledger.ts'
import { replayJournal } from '../ledger/replay-journal.ts'
import { settleStaleJournal } from '../ledger/settle-stale.ts'
import { settleAnchors } from '../records/settle-anchors.ts'
import { settleTeamChanges } from '../consent/settle-team-changes.ts'
import { unsealTeamKeys } from '../consent/unseal-team-keys.ts'
import { createAnchorBatches } from '../records/anchor-queue.ts'
import { createTermWorker } from '../records/search/term-worker.ts'
import { deployContracts } from '../ledger/deploy-contracts.ts'
import { openIpfs, type Ipfs } from '../storage/open-ipfs.ts'
import { createAccount } from '../accounts/create-account.ts'
import { decodeAccountSecrets } from '../accounts/account-secrets.ts'
import { openKeystoreWithKey } from '../crypto/keystore.ts'
import { createMailer } from '../notify/create-mailer.ts'
import { startMailWorker } from '../notify/start-mail-worker.ts'
import { notify } from '../notify/notify.ts'
import { createSignInState } from '../accounts/sign-in-state.ts'
import { BlockCache } from '../storage/block-cache.ts'
import { AnchorCache } from '../ledger/anchor-cache.ts'
import { DecisionCache } from '../ledger/decision-cache.ts'
import { AppError } from '../errors.ts'
import { lockHome } from './lock-home.ts'
import { secureHome } from './secure-home.ts'
import { setMeta } from '../db/open-database.ts'
import { joinConsortium } from '../consortium/join.ts'
import { rewindFollower } from '../consortium/follower.ts'
import { startConsortium } from '../consortium/start-consortium.ts'
import { createAuditBatches, replayAuditEntries } from '../consent/audit-log.ts'
import { publishStudyProtocols } from '../consent/studies.ts'
import { FOLLOW_FROM } from '../accounts/node-hospital.ts'
import type { Config } from '../config.ts'
import type { Services } from '../services.ts'

/** Anchor checks a node remembers (`anchorCache`): about 150 bytes each, so some 15 MB at most. */
const ANCHOR_CACHE_ENTRIES = 100_000
/** Live-or-not answers a node remembers (`decisionCache`), each for one chain block. */
const DECISION_CACHE_ENTRIES = 100_000

export interface StartNodeParams {
  config: Readonly<Config>
  env?: NodeJS.ProcessEnv
  /** Where the node says what it does; never receives a secret but the one-time admin password. */
  log?: Services['log']
  /** Prints the generated admin password once, on first start. */
  announce?: (text: string) => void
}

export interface RunningNode {
  services: Services
  anvil?: StartAnvilResult
  stop(): Promise<void>
}

/**
 * Starts the parts of a node in its home directory: SQLite, the embedded chain (or a
 * connection to an external one), the transaction journal's replay, IPFS, and on first start
 * the consortium admin and the contracts. Everything is reused on the next start.
 * @throws AppError when a part cannot start; what was started is stopped again.
 */
export async function startNode({ config, env = process.env, log = () => {}, announce = () => {} }: StartNodeParams): Promise<RunningNode> {
  const home = secureHome(config.home)
  if (home.fixed > 0) log('warn', `home: ${home.fixed} file(s) or folder(s) other users could read were made private (0600/0700)`)
  if (config.apiOnly) return startApiProcess({ config, log })
  const releaseLock = lockHome(config.home)
  const stops: (() => Promise<void> | void)[] = [releaseLock]
  const stop = async () => {
    for (const fn of stops.reverse()) {
      try { await fn() } catch (err) { log('warn', `stopping: ${(err as Error).message}`) }
    }
    stops.length = 0
  }
  try {
    const db = await openDatabase({ url: config.dbUrl === '' ? join(config.home, 'medledger.db') : config.dbUrl })
    stops.push(() => db.close())
    const nodeKey = loadNodeKey(join(config.home, 'keys', 'node.key'))

    const embedded = config.chainRpc === '' ? await startEmbeddedChain(config, log, stops) : undefined
    const rpcUrl = embedded?.rpcUrl ?? config.chainRpc
    const anvil = embedded?.anvil
    // The node's own calls go straight to anvil's socket; others use the filtering proxy at rpcUrl.
    const ledger = await connectLedger({ rpcUrl, db, ipcPath: anvil?.ipcPath })
    const replay = await replayJournal(ledger, { log: (m) => log('info', m) })
    if (replay.rebroadcast > 0) log('warn', `chain had lost ${replay.rebroadcast} transaction(s); re-sent from the journal`)
    if (replay.firstBlock !== undefined) await rewindFollower(db, replay.firstBlock) // the re-sent may sit in fewer blocks than before

    const networked = config.ipfsListen.length > 0 || config.ipfsPeers.length > 0
    const ipfs: Ipfs = await openIpfs({
      dir: join(config.home, 'ipfs'),
      // With PostgreSQL, `--api-only` processes may share this block store: no packs then.
      packs: db.dialect === 'sqlite',
      network: networked ? { listen: config.ipfsListen.length > 0 ? config.ipfsListen : ['/ip4/127.0.0.1/tcp/0'], peers: config.ipfsPeers } : undefined,
    })
    stops.push(() => ipfs.stop())
    if (ipfs.network) log('info', `ipfs: peer ${ipfs.network.peerId} listening on ${ipfs.network.addrs().join(' ')}`)
    const mailer = config.smtpUrl === '' ? undefined : createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom })
    if (mailer) stops.push(() => mailer.close())
    // Built once and never changed: the consortium is started from these parts, and the
    // Services the API gets add it (see `Services.consortium`).
    const parts = nodeServices({ config, db, ipfs, ledger, nodeKey, log, mailer, termWorker: startTermWorker(config, log, stops) })

    ledger.contracts = await ensureDeployment(parts, { env, announce })
    await settleUnfinished(parts)
    await settleAnchors(parts)
    // Other nodes fetch a study's text from IPFS by its protocol hash (studies across nodes).
    await publishStudyProtocols(parts)
    const unsealed = await unsealTeamKeys(parts)
    if (unsealed > 0) log('info', `care teams: ${unsealed} team key(s) moved from the node key to their holders' own wraps`)
    const teams = await settleTeamChanges(parts)
    if (Object.values(teams).some((n) => n > 0)) log('info', `care teams: cut-off changes settled by the chain: ${JSON.stringify(teams)}`)
    stops.push(() => stopAuditBatches(parts))
    const audit = await replayAuditEntries({ ...parts, auditBatches: parts.auditBatches! })
    if (audit.mined + audit.resent > 0) log('info', `audit: ${audit.mined} pending read entr(ies) found on chain, ${audit.resent} sent again`)
    // API processes on this home journal transactions too; any a stopped process left unsent or
    // unsettled is finished here, so none holds its account's later nonces behind a gap.
    const staleTimer = setInterval(() => {
      settleStaleJournal(ledger, { olderThanMs: 15_000 })
        .then(({ resent }) => { if (resent > 0) log('warn', `journal: re-sent ${resent} transaction(s) left unconfirmed`) })
        .catch((err: unknown) => log('warn', `journal: ${(err as Error).message}`))
      replayAuditEntries({ ...parts, auditBatches: parts.auditBatches! }, { olderThanMs: 60_000 })
        .then(({ mined, resent }) => { if (mined + resent > 0) log('warn', `audit: ${mined} entr(ies) left pending found on chain, ${resent} sent again`) })
        .catch((err: unknown) => log('warn', `audit: ${(err as Error).message}`))
    }, 15_000)
    stops.push(() => clearInterval(staleTimer))
    const consortium = await startConsortium(parts, { replicas: config.replicas })
    stops.push(() => consortium.stop())
    const services: Services = Object.freeze({ ...parts, consortium })
    if (mailer) {
      const worker = startMailWorker({ ...services, mailer }, { intervalMs: 2000 })
      stops.push(() => worker.stop())
      log('info', `mail: sending through ${mailer.target}`)
    } else {
      log('info', 'mail: no SMTP URL; notifications are kept in the outbox')
    }
    return { services, anvil, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * The embedded chain: anvil answering only on its IPC socket in the home, and the filtering
 * proxy others reach (`chainRpc` in the status), which refuses anvil's dev methods unless asked.
 * Their stops are pushed on `stops`.
 * @throws AppError LEDGER_UNAVAILABLE, LEDGER_NODE_UNSUPPORTED
 */
async function startEmbeddedChain(
  config: Readonly<Config>,
  log: Services['log'],
  stops: (() => Promise<void> | void)[],
): Promise<{ rpcUrl: string; anvil: StartAnvilResult }> {
  const listen = config.chainListen === '' ? undefined : { host: config.chainListen.slice(0, config.chainListen.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port: Number(config.chainListen.slice(config.chainListen.lastIndexOf(':') + 1)) }
  const anvil = await startAnvil({
    home: config.home,
    ipc: true,
    stateIntervalSeconds: config.anvilStateIntervalSeconds,
    log: (e) => log(e.level === 'info' ? 'info' : 'warn', `chain: ${e.message}`),
  })
  stops.push(() => anvil.stop())
  if (!anvil.isolated) log('warn', 'chain: this system cannot give the embedded chain a private network namespace; its own port stays reachable by local processes')
  const proxy = await serveChainRpc({
    upstream: anvil.ipcPath ? { ipcPath: anvil.ipcPath } : { url: anvil.rpcUrl },
    ...listen,
    devMethods: config.chainDevMethods,
  })
  stops.push(() => proxy.close())
  if (config.chainDevMethods) log('warn', 'chain: dev methods (evm_*, anvil_*, unsigned transactions) are served (--chain-dev-methods): tests and demos only')
  return { rpcUrl: proxy.url, anvil }
}

/**
 * An extra API process on the home of a running node (`--api-only`): the same PostgreSQL
 * database, node key, deployment and block store, the node's chain by `--chain-rpc`. It does not
 * take the home lock, run a chain, replay the journal, follow the ledger, replicate, peer or send
 * mail: the node process does those once for the hospital. Transactions it signs take their
 * nonces under the database's lock, so both processes can act for the same account.
 */
async function startApiProcess({ config, log }: { config: Readonly<Config>; log: Services['log'] }): Promise<RunningNode> {
  const path = join(config.home, 'deployment.json')
  if (!existsSync(path)) throw new AppError('BAD_REQUEST', { message: `No node has been started on ${config.home} yet: start the hospital's node first, then API processes on its home.` })
  const stops: (() => Promise<void> | void)[] = []
  const stop = async () => {
    for (const fn of stops.reverse()) {
      try { await fn() } catch (err) { log('warn', `stopping: ${(err as Error).message}`) }
    }
    stops.length = 0
  }
  try {
    const db = await openDatabase({ url: config.dbUrl })
    stops.push(() => db.close())
    const nodeKey = loadNodeKey(join(config.home, 'keys', 'node.key'))
    const ledger = await connectLedger({ rpcUrl: config.chainRpc, db })
    const d = JSON.parse(readFileSync(path, 'utf8')) as DeploymentFile
    if (d.chainId !== ledger.chainId) throw new AppError('LEDGER_UNAVAILABLE', { message: `This home was deployed on chain ${d.chainId}, but the chain answers ${ledger.chainId}.` })
    ledger.contracts = { registry: d.registry, recordLedger: d.recordLedger, consent: d.consent, research: d.research }
    const ipfs = await openIpfs({ dir: join(config.home, 'ipfs'), packs: false })
    stops.push(() => ipfs.stop())
    const services = nodeServices({ config, db, ipfs, ledger, nodeKey, log, termWorker: startTermWorker(config, log, stops) })
    stops.push(() => stopAuditBatches(services))
    log('info', 'API process: the chain, ledger follower, replication, peering and mail stay with the node on this home')
    return { services, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** The node's term worker (uploads' content terms off the main thread), started now when the search index is on; its close is pushed on `stops`. */
function startTermWorker(config: Readonly<Config>, log: Services['log'], stops: (() => Promise<void> | void)[]): Services['termWorker'] {
  if (!config.searchIndex) return undefined
  const worker = createTermWorker({ log })
  worker.start()
  stops.push(() => worker.close())
  return worker
}

/**
 * A node's Services from its parts, with its own fresh in-memory state (sign-in) and its
 * notifier. A notification that cannot be written must not undo what caused it (an anchored
 * record, a mined grant): it is logged instead.
 */
function nodeServices(p: Omit<Services, 'signIn' | 'blockCache' | 'anchorCache' | 'decisionCache' | 'notify' | 'consortium' | 'auditBatches' | 'anchorBatches'>): Services {
  const services: Services = {
    ...p,
    signIn: createSignInState(),
    blockCache: new BlockCache({ maxBytes: p.config.cacheMb * 1024 * 1024 }),
    anchorCache: new AnchorCache({ maxEntries: ANCHOR_CACHE_ENTRIES }),
    decisionCache: new DecisionCache({ maxEntries: DECISION_CACHE_ENTRIES }),
    auditBatches: createAuditBatches(p),
    anchorBatches: createAnchorBatches(p),
    notify: (n) => notify(services, n).catch((err: unknown) => p.log('warn', `notification ${n.kind} not kept: ${(err as Error).message}`)),
  }
  return Object.freeze(services)
}

interface DeploymentFile extends ContractAddresses { chainId: number; admin: Address; joined?: boolean }

/**
 * Contract addresses from `<home>/deployment.json`; on first start, creates the consortium
 * admin and deploys the contracts from its key.
 */
async function ensureDeployment(s: Services, { env, announce }: { env: NodeJS.ProcessEnv; announce: (t: string) => void }): Promise<ContractAddresses> {
  const path = join(s.config.home, 'deployment.json')
  if (existsSync(path)) {
    const d = JSON.parse(readFileSync(path, 'utf8')) as DeploymentFile
    if (d.chainId !== s.ledger.chainId) {
      throw new AppError('LEDGER_UNAVAILABLE', { message: `This home was deployed on chain ${d.chainId}, but the chain answers ${s.ledger.chainId}.` })
    }
    const code = await s.ledger.client.getCode({ address: d.registry })
    if (!code || code === '0x') throw new AppError('LEDGER_UNAVAILABLE', { message: 'The chain does not hold this node\'s contracts (was it reset?).' })
    if (!d.consent) throw new AppError('LEDGER_UNAVAILABLE', { message: 'This home was deployed by an older version without the Consent contract; start a new home.' })
    return { registry: d.registry, recordLedger: d.recordLedger, consent: d.consent, research: d.research }
  }
  if (s.config.registry !== '') return joinDeployment(s, path, { env, announce })
  if (await s.db.get(`SELECT 1 FROM accounts WHERE role = 'admin'`)) {
    throw new AppError('INTERNAL', { message: 'The admin exists but the contracts were never deployed (first start interrupted); remove the home directory and start again.' })
  }
  const email = env.MEDLEDGER_ADMIN_EMAIL?.trim() || 'admin@medledger.local'
  const generated = !env.MEDLEDGER_ADMIN_PASSWORD
  const password = env.MEDLEDGER_ADMIN_PASSWORD || randomBytes(18).toString('base64url')
  const created = await createAccount(s, { actor: undefined, role: 'admin', email, name: 'Consortium admin', password })
  try {
    const row = await s.db.get('SELECT keystore FROM accounts WHERE id = ?', created.account.id) as { keystore: string }
    const keys = decodeAccountSecrets(openKeystoreWithKey(JSON.parse(row.keystore), created.keys.keystoreKey))
    await setMeta(s.db, FOLLOW_FROM, String(await s.ledger.client.getBlockNumber({ cacheTime: 0 })))
    const contracts = await deployContracts(s.ledger, { admin: keys.ledger, proposalTtlSeconds: s.config.proposalTtlDays * 86_400 })
    const file: DeploymentFile = { chainId: s.ledger.chainId, admin: keys.ledger.address, ...contracts }
    writeDeployment(path, file)
    announce([
      `Consortium founded: registry ${contracts.registry} on chain ${s.ledger.chainId}`,
      `Consortium admin created: ${email}`,
      generated ? `Admin password (shown once, store it now): ${password}` : 'Admin password: from MEDLEDGER_ADMIN_PASSWORD',
      `Admin recovery code (shown once): ${created.recoveryCode}`,
    ].join('\n'))
    return contracts
  } catch (err) {
    await s.db.run('DELETE FROM accounts WHERE id = ?', created.account.id)
    throw err
  }
}

function writeDeployment(path: string, file: DeploymentFile): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 })
  const fd = openSync(`${path}.tmp`, 'r'); fsyncSync(fd); closeSync(fd)
  renameSync(`${path}.tmp`, path)
}

/**
 * First start of a node joining a consortium (`--registry`): its hospital's identity, the
 * application for membership, and its local admin, who acts as the hospital's staff once admitted.
 */
async function joinDeployment(s: Services, path: string, { env, announce }: { env: NodeJS.ProcessEnv; announce: (t: string) => void }): Promise<ContractAddresses> {
  const name = s.config.hospitalName || `Hospital ${s.config.registry.slice(0, 6)}`
  const { contracts, hospital } = await joinConsortium(s, { registry: s.config.registry as Address, hospitalName: name })
  const email = env.MEDLEDGER_ADMIN_EMAIL?.trim() || 'admin@medledger.local'
  const generated = !env.MEDLEDGER_ADMIN_PASSWORD
  const password = env.MEDLEDGER_ADMIN_PASSWORD || randomBytes(18).toString('base64url')
  let created = await s.db.get<{ id: string; address: Address }>(`SELECT id, address FROM accounts WHERE role = 'admin' AND hospital_id = ?`, hospital.id)
  let recoveryCode: string | undefined
  if (!created) {
    const r = await createAccount(s, { actor: undefined, role: 'admin', hospital: hospital.id, email, name: `${name} admin`, password })
    created = { id: r.account.id, address: r.account.address }
    recoveryCode = r.recoveryCode
  }
  writeDeployment(path, { chainId: s.ledger.chainId, admin: created.address, joined: true, ...contracts })
  announce([
    `Joined consortium ${contracts.registry} on chain ${s.ledger.chainId} as ${name} (hospital ${hospital.address}); waiting to be admitted.`,
    `A member's admin admits it with: medledger hospital admit --address ${hospital.address} --name "${name}"`,
    `Local admin: ${email}`,
    generated && recoveryCode ? `Admin password (shown once, store it now): ${password}` : 'Admin password: from MEDLEDGER_ADMIN_PASSWORD',
    ...(recoveryCode ? [`Admin recovery code (shown once): ${recoveryCode}`] : []),
  ].join('\n'))
  return contracts
}

/**
 * Accounts and hospitals whose registration was cut off: kept when the journal shows the
 * transaction mined, dropped otherwise (they were never acknowledged).
 */
async function settleUnfinished({ db }: Pick<Services, 'db'>): Promise<void> {
  for (const table of ['accounts', 'hospitals'] as const) {
    const rows = await db.all(`SELECT id, address FROM ${table} WHERE state = 'registering'`) as { id: string; address: string }[]
    for (const row of rows) {
      const tx = await db.get(`SELECT tx_hash FROM journal WHERE ref = ? AND state = 'mined' ORDER BY id DESC LIMIT 1`, row.address) as { tx_hash: string } | undefined
      if (tx) await db.run(`UPDATE ${table} SET state = 'active', tx_hash = ? WHERE id = ?`, tx.tx_hash, row.id)
      else await db.run(`DELETE FROM ${table} WHERE id = ?`, row.id)
    }
  }
}

export type { Db, Ledger }

/** Lets the audit batch in flight finish (10 s at most) and cancels the retries; pending entries are replayed at the next start. */
async function stopAuditBatches(s: Services): Promise<void> {
  const batches = s.auditBatches
  if (!batches) return
  batches.stop()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([batches.idle(), new Promise((resolve) => { timer = setTimeout(resolve, 10_000) })])
  clearTimeout(timer)
}
