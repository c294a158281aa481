import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { AppError } from '../errors.ts'

/** What the embedded node reports: state-file checks and repairs, exits. Holds no personal data. */
export interface AnvilLogEntry {
  level: 'info' | 'warn' | 'error'
  event:
    | 'state-new' // no state file and no good copy: a fresh chain
    | 'state-loaded' // the state file validated; the good copy was refreshed from it
    | 'state-restored' // the state file was bad or missing; the last good copy replaced it
    | 'state-reset' // the state file was bad and there was no good copy: a fresh chain
    | 'state-saved' // on stop, the written state validated and became the good copy
    | 'state-invalid-after-stop' // on stop, the written state did not validate; the good copy was kept
    | 'exited' // anvil exited without being asked to
    | 'killed' // anvil did not exit on SIGTERM in time and was killed
  message: string
  /** Files involved (the bad file set aside, the copy restored…). */
  files?: string[]
}

export interface StartAnvilParams {
  /** The node's home directory; the chain lives in `<home>/chain/`. */
  home: string
  host?: string
  /** 0 lets the system pick a free port; the real one is parsed from anvil's output. */
  port?: number
  /** How often anvil rewrites its state file; what a SIGKILL can lose at most. */
  stateIntervalSeconds?: number
  chainId?: number
  /**
   * Unlocked, funded dev accounts anvil creates from its well-known mnemonic. 0 by default: on a
   * node, anyone who can reach the RPC port could send transactions from them.
   */
  accounts?: number
  /**
   * Serve the chain on an IPC socket, `<home>/chain/anvil.ipc` (mode 0600, in the node's 0700
   * home), for a filtering proxy in front of it (`serveChainRpc`). anvil always listens on HTTP
   * too: on Linux that port is then shut in a private network namespace (`unshare -rn`), so the
   * socket is the only way in; where that is not possible (`isolated: false`), `host`/`port` stay
   * reachable by local processes.
   */
  ipc?: boolean
  /** Aborts the start (not a running node: call `stop()` for that). */
  signal?: AbortSignal
  log?: (entry: AnvilLogEntry) => void
  /** Path of the anvil binary; by default the one shipped in `@foundry-rs/anvil-<platform>`. */
  binary?: string
  /** How long to wait for anvil to listen. */
  startTimeoutMs?: number
  /** How long `stop()` waits after SIGTERM before it kills. */
  stopTimeoutMs?: number
}

/** How the chain state was found at start. */
export type AnvilStateOutcome = 'new' | 'loaded' | 'restored' | 'reset'

export interface StartAnvilResult {
  rpcUrl: string
  chainId: number
  port: number
  process: ChildProcess
  /** The state file anvil loads from and writes to. */
  stateFile: string
  /** The IPC socket, when started with `ipc`. */
  ipcPath?: string
  /** True when anvil's HTTP port is shut in a private network namespace (only with `ipc`). */
  isolated: boolean
  /**
   * `restored` and `reset` mean the chain may have lost transactions the node already saw mined:
   * replay the transaction journal.
   */
  state: AnvilStateOutcome
  /** Settles when anvil exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGTERM (anvil writes its state), wait for the exit, refresh the good copy. Idempotent. */
  stop(): Promise<void>
}

const platformPackages: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64',
}

/**
 * Path of the anvil binary shipped by npm for this platform: the platform package first, then the
 * places where `@foundry-rs/anvil` itself puts a binary it downloaded.
 * @throws AppError `LEDGER_NODE_UNSUPPORTED` when there is none.
 */
export function resolveAnvilBinary(): string {
  const require = createRequire(import.meta.url)
  const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
  const candidates: string[] = []
  const pkg = platformPackages[`${process.platform}-${process.arch}`]
  if (pkg) {
    try {
      candidates.push(join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', exe))
    } catch {
      // optional dependency not installed for this platform
    }
  }
  try {
    const wrapperDir = dirname(require.resolve('@foundry-rs/anvil/package.json'))
    candidates.push(join(wrapperDir, exe), join(wrapperDir, '..', 'dist', exe))
  } catch {
    // wrapper not installed
  }
  const found = candidates.find((c) => existsSync(c))
  if (!found) {
    throw new AppError('LEDGER_NODE_UNSUPPORTED', {
      details: `no anvil binary for ${process.platform}-${process.arch} (looked in: ${candidates.join(', ') || 'nothing installed'})`,
    })
  }
  return found
}

/** The outcome of checking a state file. */
export type AnvilStateCheck = { ok: true } | { ok: false; reason: string }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Checks that `path` holds a state file as anvil 1.7 writes it: a JSON object with `accounts`
 * (address → { nonce, balance, code, storage }), `block`, `best_block_number`, `blocks` and
 * `transactions`. A write interrupted by a crash leaves a truncated file, which fails to parse.
 */
export async function checkAnvilState(path: string): Promise<AnvilStateCheck> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    return { ok: false, reason: `unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }
  }
  let state: unknown
  try {
    state = JSON.parse(text)
  } catch {
    return { ok: false, reason: `not JSON (${text.length} bytes; truncated?)` }
  }
  if (!isObject(state)) return { ok: false, reason: 'not a JSON object' }
  if (!isObject(state.accounts)) return { ok: false, reason: 'no accounts object' }
  for (const [address, account] of Object.entries(state.accounts)) {
    if (
      !/^0x[0-9a-fA-F]{40}$/.test(address) || !isObject(account) || typeof account.nonce !== 'number'
      || typeof account.balance !== 'string' || typeof account.code !== 'string' || !isObject(account.storage)
    ) return { ok: false, reason: 'malformed account entry' }
  }
  if (state.block !== undefined && state.block !== null && !isObject(state.block)) return { ok: false, reason: 'malformed block' }
  if (state.best_block_number !== undefined && state.best_block_number !== null && typeof state.best_block_number !== 'number') {
    return { ok: false, reason: 'malformed best_block_number' }
  }
  for (const key of ['blocks', 'transactions'] as const) {
    if (state[key] !== undefined && !Array.isArray(state[key])) return { ok: false, reason: `malformed ${key}` }
  }
  return { ok: true }
}

/** Copies `from` to `to` durably: through a synced temporary file renamed over `to`. */
async function copyDurably(from: string, to: string): Promise<void> {
  const tmp = `${to}.${process.pid}-${randomUUID()}.tmp`
  await copyFile(from, tmp)
  await chmod(tmp, 0o600) // copyFile keeps the source's mode; the chain state is the node's alone
  const handle = await open(tmp, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, to)
}

const timestamp = () => new Date().toISOString().replace(/[:.]/g, '-')

/**
 * Checks the state file before anvil loads it and keeps the last good copy: a good file is copied
 * to `state.good.json`; a bad one is moved aside as `state.bad-<time>.json` and replaced by the
 * good copy, if any.
 */
export async function prepareAnvilState(
  chainDir: string,
  log: (entry: AnvilLogEntry) => void = () => {},
): Promise<AnvilStateOutcome> {
  const stateFile = join(chainDir, 'state.json')
  const goodFile = join(chainDir, 'state.good.json')
  const exists = async (p: string) => stat(p).then(() => true, () => false)

  if (await exists(stateFile)) {
    const check = await checkAnvilState(stateFile)
    if (check.ok) {
      await copyDurably(stateFile, goodFile)
      log({ level: 'info', event: 'state-loaded', message: 'chain state file is valid; good copy refreshed', files: [stateFile] })
      return 'loaded'
    }
    const badFile = join(chainDir, `state.bad-${timestamp()}.json`)
    await rename(stateFile, badFile)
    const good = (await exists(goodFile)) ? await checkAnvilState(goodFile) : undefined
    if (good?.ok) {
      await copyDurably(goodFile, stateFile)
      log({
        level: 'warn', event: 'state-restored',
        message: `chain state file is invalid (${check.reason}); set aside and replaced by the last good copy`,
        files: [badFile, goodFile],
      })
      return 'restored'
    }
    log({
      level: 'error', event: 'state-reset',
      message: `chain state file is invalid (${check.reason}) and there is no valid good copy; starting a fresh chain`,
      files: [badFile],
    })
    return 'reset'
  }

  if ((await exists(goodFile)) && (await checkAnvilState(goodFile)).ok) {
    await copyDurably(goodFile, stateFile)
    log({ level: 'warn', event: 'state-restored', message: 'chain state file is missing; restored the last good copy', files: [goodFile] })
    return 'restored'
  }
  log({ level: 'info', event: 'state-new', message: 'no chain state yet; starting a fresh chain', files: [stateFile] })
  return 'new'
}

/** `setpriv` makes the kernel send anvil SIGTERM when this process dies, even by SIGKILL (Linux). */
function findSetpriv(): string | undefined {
  if (process.platform !== 'linux') return undefined
  return ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))
}

const listeningPattern = /Listening on (\S+):(\d+)/

let netnsSupport: string | false | undefined

/**
 * `unshare` when this system lets an unprivileged process take a user and network namespace of
 * its own (Linux with user namespaces on); false otherwise. Probed once.
 */
function findUnshare(): string | false {
  if (netnsSupport !== undefined) return netnsSupport
  netnsSupport = false
  if (process.platform !== 'linux') return netnsSupport
  const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p))
  if (unshare && spawnSync(unshare, ['-rn', '--', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0) netnsSupport = unshare
  return netnsSupport
}

/** Waits for anvil's IPC socket to appear (it is bound just before the HTTP port), then makes it 0600. */
async function awaitSocket(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if ((await stat(path)).isSocket()) break
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new AppError('LEDGER_UNAVAILABLE', { details: `anvil did not open its IPC socket within ${timeoutMs} ms` })
    await new Promise((r) => setTimeout(r, 20))
  }
  await chmod(path, 0o600)
}

/**
 * Starts the embedded ledger node: anvil, its state in `<home>/chain/state.json`, no gas charged,
 * after checking the state file and repairing it from the last good copy.
 *
 * anvil does not outlive this process: on Linux it is started through `setpriv --pdeathsig
 * SIGTERM`, so the kernel signals it when this process dies for any reason, SIGKILL included;
 * elsewhere (or without setpriv) it is only signalled from this process's `exit` event, which does
 * not run on SIGKILL or on an unhandled fatal signal. Either way anvil then writes its state
 * and exits. Must be called from the main thread: the kernel's death signal follows the thread
 * that spawned the child.
 * @throws AppError `LEDGER_NODE_UNSUPPORTED` when there is no anvil binary for this platform.
 * @throws AppError `LEDGER_UNAVAILABLE` when anvil exits or stays silent instead of listening.
 * @throws the signal's reason when `signal` aborts the start.
 */
export async function startAnvil({
  home,
  host = '127.0.0.1',
  port = 0,
  stateIntervalSeconds = 1,
  chainId = 31337,
  accounts = 0,
  ipc = false,
  signal,
  log = () => {},
  binary,
  startTimeoutMs = 30_000,
  stopTimeoutMs = 15_000,
}: StartAnvilParams): Promise<StartAnvilResult> {
  signal?.throwIfAborted()
  const bin = binary ?? resolveAnvilBinary()
  if (!existsSync(bin)) throw new AppError('LEDGER_UNAVAILABLE', { details: `no anvil binary at ${bin}` })
  const chainDir = join(home, 'chain')
  await mkdir(chainDir, { recursive: true, mode: 0o700 })
  const state = await prepareAnvilState(chainDir, log)
  signal?.throwIfAborted()

  const stateFile = join(chainDir, 'state.json')
  const ipcPath = ipc ? join(chainDir, 'anvil.ipc') : undefined
  // A socket path longer than sun_path (108 bytes) cannot be bound.
  if (ipcPath && Buffer.byteLength(ipcPath) > 100) throw new AppError('LEDGER_UNAVAILABLE', { details: `the chain's IPC socket path is too long (${ipcPath}): use a shorter home path` })
  if (ipcPath) await rm(ipcPath, { force: true })
  const unshare = ipcPath ? findUnshare() : false
  const command = anvilCommand(bin, unshare, { host, port, ipcPath, chainId, accounts, stateFile, stateIntervalSeconds })
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  const run = { stopping: false }
  const { exited, listening } = watchAnvil(child, bin, run, log)

  try {
    const actualPort = await awaitListening(listening, startTimeoutMs, signal)
    if (ipcPath) await awaitSocket(ipcPath, startTimeoutMs)
    const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host
    const stop = onceOnly(async () => {
      run.stopping = true
      await terminate(child, exited, stopTimeoutMs, log)
      await keepGoodState(stateFile, chainDir, log)
    })
    return { rpcUrl: `http://${urlHost}:${actualPort}`, chainId, port: actualPort, process: child, stateFile, ipcPath, isolated: unshare !== false, state, exited, stop }
  } catch (err) {
    run.stopping = true
    await terminate(child, exited, stopTimeoutMs, log)
    throw err
  }
}

/** anvil's command line, behind `unshare` and `setpriv` when there are. */
function anvilCommand(
  bin: string,
  unshare: string | false,
  { host, port, ipcPath, chainId, accounts, stateFile, stateIntervalSeconds }:
    { host: string; port: number; ipcPath: string | undefined; chainId: number; accounts: number; stateFile: string; stateIntervalSeconds: number },
): string[] {
  const args = [
    // In its own network namespace no interface is up: the HTTP port anvil insists on opening
    // reaches nothing, and 0.0.0.0 always binds.
    '--host', unshare ? '0.0.0.0' : host,
    '--port', unshare ? '0' : String(port),
    ...(ipcPath ? ['--ipc', ipcPath] : []),
    '--chain-id', String(chainId),
    '--accounts', String(accounts),
    '--state', stateFile,
    '--state-interval', String(stateIntervalSeconds),
    // No gas: accounts with a zero balance can transact. eth_maxPriorityFeePerGas still suggests
    // 1 gwei, so clients must send zero fees themselves.
    '--gas-price', '0',
    '--base-fee', '0',
    '--disable-min-priority-fee',
  ]
  const setpriv = findSetpriv()
  // Each wrapper execs the next, so the child's pid is anvil's own; setpriv comes last so the
  // death signal is set inside the namespace (changing credentials would clear it).
  return [...(unshare ? [unshare, '-rn', '--'] : []), ...(setpriv ? [setpriv, '--pdeathsig', 'SIGTERM', '--'] : []), bin, ...args]
}

/**
 * Watches a spawned anvil: `exited` settles when it exits (logged as an error unless
 * `run.stopping`), `listening` with the port it prints. anvil is signalled on this process's exit.
 */
function watchAnvil(
  child: ChildProcess,
  bin: string,
  run: { stopping: boolean },
  log: (entry: AnvilLogEntry) => void,
): { exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; listening: Promise<number> } {
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, sig) => resolve({ code, signal: sig }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  const killOnExit = () => {
    child.kill('SIGTERM')
  }
  process.once('exit', killOnExit)
  void exited.then(({ code, signal: sig }) => {
    process.off('exit', killOnExit)
    if (!run.stopping) log({ level: 'error', event: 'exited', message: `anvil exited unexpectedly (code ${code}, signal ${sig})` })
  })

  // anvil's stdout carries a banner, then one line per RPC call: read it until the port shows,
  // then drain it unread so the pipe never fills. Keep stderr's tail for error reports.
  let stderrTail = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4000)
  })
  let stdoutHead = ''
  const listening = new Promise<number>((resolve, reject) => {
    const onData = (chunk: string) => {
      stdoutHead += chunk
      const match = listeningPattern.exec(stdoutHead)
      if (match) {
        child.stdout!.off('data', onData).on('data', () => {})
        stdoutHead = ''
        resolve(Number(match[2]))
      } else if (stdoutHead.length > 64_000) {
        stdoutHead = stdoutHead.slice(-1000)
      }
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.once('error', (err) => reject(new AppError('LEDGER_UNAVAILABLE', { details: `cannot spawn ${bin}`, cause: err })))
    void exited.then(({ code, signal: sig }) =>
      reject(new AppError('LEDGER_UNAVAILABLE', {
        details: `anvil exited before listening (code ${code}, signal ${sig}): ${stderrTail.trim() || stdoutHead.trim().slice(-1000)}`,
      })))
  })
  return { exited, listening }
}

/**
 * The port anvil listens on.
 * @throws AppError `LEDGER_UNAVAILABLE` after `startTimeoutMs`; the signal's reason when it aborts.
 */
async function awaitListening(listening: Promise<number>, startTimeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      listening,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new AppError('LEDGER_UNAVAILABLE', { details: `anvil did not listen within ${startTimeoutMs} ms` })),
          startTimeoutMs,
        )
      }),
      new Promise<never>((_, reject) => {
        if (!signal) return
        onAbort = () => reject(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
      }),
    ])
  } finally {
    clearTimeout(timer)
    if (onAbort) signal?.removeEventListener('abort', onAbort)
  }
}

/** After a stop: keeps the state anvil wrote as the good copy when it checks out, else logs and keeps the old one. */
async function keepGoodState(stateFile: string, chainDir: string, log: (entry: AnvilLogEntry) => void): Promise<void> {
  const check = await checkAnvilState(stateFile)
  if (check.ok) {
    await copyDurably(stateFile, join(chainDir, 'state.good.json'))
    log({ level: 'info', event: 'state-saved', message: 'chain state written and kept as the good copy', files: [stateFile] })
  } else {
    log({
      level: 'error', event: 'state-invalid-after-stop',
      message: `chain state written on stop is invalid (${check.reason}); the good copy was kept`,
      files: [stateFile],
    })
  }
}

async function terminate(
  child: ChildProcess,
  exited: Promise<unknown>,
  timeoutMs: number,
  log: (entry: AnvilLogEntry) => void,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs)
    }),
  ])
  clearTimeout(timer)
  if (timedOut) {
    log({ level: 'error', event: 'killed', message: `anvil did not exit within ${timeoutMs} ms of SIGTERM; killed` })
    child.kill('SIGKILL')
    await exited
  }
}

function onceOnly(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined
  return () => (running ??= fn())
}
