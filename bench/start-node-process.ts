import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export interface StartNodeProcessParams {
  home: string
  adminEmail: string
  adminPassword: string
  /** Further `start` flags (`--chain-rpc URL`, `--registry ADDR`, `--replicas N`…). */
  args?: string[]
  /** How long the node may take to print its URL. */
  timeoutMs?: number
}

export interface NodeProcess {
  /** The `node` process serving the API (whose RSS the bench reads). */
  readonly pid: number
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string
  /** The last lines the node wrote, for error reports. */
  tail(): string
  /** SIGTERM, then SIGKILL to its process group if it has not exited in `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

const binPath = fileURLToPath(new URL('../bin/medledger.js', import.meta.url))

/**
 * Starts `node bin/medledger.js start --home HOME --port 0` as a child process (its own process
 * group, so a node that ignores SIGTERM can be killed with the anvil it started) and resolves
 * with the URL it prints.
 * @throws Error when the node exits or does not print its URL in time; the child is stopped.
 */
export async function startNodeProcess({ home, adminEmail, adminPassword, args = [], timeoutMs = 90_000 }: StartNodeProcessParams): Promise<NodeProcess> {
  const child = spawn(process.execPath, [binPath, 'start', '--home', home, '--port', '0', ...args], {
    env: {
      ...process.env,
      MEDLEDGER_ADMIN_EMAIL: adminEmail,
      MEDLEDGER_ADMIN_PASSWORD: adminPassword,
      // Cheap Argon2 so sign-ins do not dominate; the KDF is not what is measured here.
      MEDLEDGER_KDF: '{"m":1024,"t":1,"p":1}',
      // Password-only sign-in: two-factor sign-in is not what is measured here.
      MEDLEDGER_MFA_ROLES: 'none',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const lines: string[] = []
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(l => l !== ''))
    if (lines.length > 60) lines.splice(0, lines.length - 60)
  }
  child.stderr!.on('data', keep)
  const exited = once(child, 'exit')
  const tail = () => lines.join('\n')
  const stop = async (graceMs = 20_000) => stopChild(child, exited, graceMs)

  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`the node did not print its URL within ${timeoutMs} ms`)), timeoutMs)
      child.stdout!.on('data', (chunk: Buffer) => {
        keep(chunk)
        out += chunk.toString('utf8')
        const m = /MedLedger node listening on (http:\/\/\S+)/.exec(out)
        if (m) { clearTimeout(timer); resolve(m[1]) }
      })
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`the node exited (code ${code}, signal ${signal}) before listening`)) })
      child.once('error', (err) => { clearTimeout(timer); reject(err) })
    })
    return { pid: child.pid!, url, tail, stop }
  } catch (err) {
    await stop(5_000)
    throw new Error(`${(err as Error).message}\n--- node output ---\n${tail()}`)
  }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref())
    if (await Promise.race([exited.then(() => 'exited' as const), timer]) === 'timeout') killGroup(child.pid!)
    await exited
  }
  // A node that died without stopping its chain leaves the anvil it started in our group.
  killGroup(child.pid!)
}

function killGroup(pgid: number): void {
  try { process.kill(-pgid, 'SIGKILL') } catch { /* the group is gone */ }
}
