import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestDatabase } from './postgres.ts'

export const root = fileURLToPath(new URL('../../', import.meta.url))
export const bin = join(root, 'bin', 'medledger.js')
export const fixtures = join(root, '..', 'shared', 'fixtures')

/** Cheap Argon2id for tests: the cost is a deployment setting, not what is under test. */
/** Two-factor sign-in is off here (`none`) so tests sign in with a password; MFA tests turn it on. */
/** The rate limits of unauthenticated routes are high here: the tests sign in many times from 127.0.0.1 (test/sign-in-hardening.test.ts proves the limit). */
export const testEnv = { MEDLEDGER_KDF: '{"m":1024,"t":1,"p":1}', MEDLEDGER_ADMIN_EMAIL: 'admin@example.org', MEDLEDGER_ADMIN_PASSWORD: 'admin-password-123', MEDLEDGER_MFA_ROLES: 'none', MEDLEDGER_RATE_LIMIT_PER_MINUTE: '100000' }

export interface NodeProcess {
  url: string
  home: string
  /** The node's database: its SQLite file, or its Postgres URL when `MEDLEDGER_TEST_DB=postgres`. */
  dbUrl: string
  child: ChildProcess
  output: () => string
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>
  /** SIGKILL the chain first (a crash loses its unsaved tail), then the node. */
  crash(): Promise<void>
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Each home's Postgres database, so that a node restarted on its home finds its data again. */
const postgresOfHome = new Map<string, string>()

/**
 * The database a node on `home` uses: SQLite in the home, or with `MEDLEDGER_TEST_DB=postgres`
 * a fresh Postgres database of its own (the same one again for the same home).
 */
async function testDbUrl(home: string): Promise<string> {
  if (process.env.MEDLEDGER_TEST_DB !== 'postgres') return join(home, 'medledger.db')
  let url = postgresOfHome.get(home)
  if (!url) {
    url = await createTestDatabase()
    postgresOfHome.set(home, url)
  }
  return url
}

/** Starts `medledger start` as a separate process on a free port and waits until it listens. */
export async function startNodeProcess({ home = tempDir('ml-node-'), env = {}, args = [] }: { home?: string; env?: Record<string, string>; args?: string[] } = {}): Promise<NodeProcess> {
  const dbUrl = await testDbUrl(home)
  const dbArgs = dbUrl.startsWith('postgres') ? ['--db', dbUrl] : []
  const child = spawn(process.execPath, [bin, 'start', '--home', home, '--port', '0', ...dbArgs, ...args], {
    env: { ...process.env, ...testEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => { out += d })
  child.stderr!.on('data', (d) => { out += d })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start in 60 s:\n${out}`)), 60_000)
    const check = () => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    }
    child.stdout!.on('data', check)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`node exited (${code}) before listening:\n${out}`)) })
  })
  return {
    url,
    home,
    dbUrl,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode
      child.kill('SIGTERM')
      return exited
    },
    async crash() {
      const anvil = await childPids(child.pid!)
      for (const pid of anvil) process.kill(pid, 'SIGKILL')
      child.kill('SIGKILL')
      await exited
      // Wait for the chain to be gone, so the next start cannot race it for its state file.
      for (const pid of anvil) {
        for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20))
      }
    },
  }
}

/**
 * Whether `pid` still runs. A killed chain stays a zombie until its new parent reaps it (here
 * about 1.5 s later), but a zombie holds no file and no port any more: it counts as gone.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch { return false }
}

async function childPids(pid: number): Promise<number[]> {
  const { readFileSync, readdirSync } = await import('node:fs')
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) pids.push(Number(entry))
    } catch { /* gone */ }
  }
  return pids
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs the medledger CLI as a user would, with its own HOME for saved sessions. */
export function runCli(args: string[], { api, cliHome, input, env = {} }: { api: string; cliHome: string; input?: string; env?: Record<string, string> }): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, HOME: cliHome, MEDLEDGER_API: api, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.stdin.end(input ?? '')
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A small HTTP client for the API. */
export class Api {
  constructor(readonly url: string, public token?: string) {}

  async call(method: string, path: string, opts: { json?: unknown; body?: BodyInit | null; headers?: Record<string, string>; token?: string | null } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers }
    const token = opts.token === null ? undefined : opts.token ?? this.token
    if (token) headers.authorization = `Bearer ${token}`
    let body = opts.body
    if (opts.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(opts.json) }
    return fetch(`${this.url}/api/v1${path}`, { method, headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit)
  }

  async json<T = any>(method: string, path: string, json?: unknown, token?: string | null): Promise<{ status: number; body: T }> {
    const res = await this.call(method, path, { json, token })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined }
  }

  async login(email: string, password: string): Promise<string> {
    const r = await this.json('POST', '/auth/login', { email, password }, null)
    if (r.status !== 200) throw new Error(`login ${email}: ${JSON.stringify(r.body)}`)
    return r.body.token
  }

  async upload(token: string, patient: string, fileName: string, bytes: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const res = await this.call('POST', '/records', {
      token,
      body: bytes as unknown as BodyInit,
      headers: { 'content-type': 'application/octet-stream', 'x-medledger-patient': patient, 'x-medledger-file-name': encodeURIComponent(fileName), ...headers },
    })
    return { status: res.status, body: await res.json() }
  }

  async download(token: string | null, recordId: string): Promise<{ status: number; bytes: Buffer; json?: any; headers: Headers }> {
    const res = await this.call('GET', `/records/${recordId}`, { token })
    const bytes = Buffer.from(await res.arrayBuffer())
    let json
    if (!res.ok) json = JSON.parse(bytes.toString('utf8'))
    return { status: res.status, bytes, json, headers: res.headers }
  }
}

/** Sets up a hospital with a doctor and a patient (and returns their tokens). */
export async function seed(api: Api, { hospitalName = 'St Mary', tag = 'a' }: { hospitalName?: string; tag?: string } = {}) {
  const admin = await api.login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD)
  const h = await api.json('POST', '/hospitals', { name: hospitalName }, admin)
  if (h.status !== 201) throw new Error(`hospital: ${JSON.stringify(h.body)}`)
  const mk = async (role: string, email: string) => {
    const r = await api.json('POST', '/users', { role, hospital: h.body.id, email, name: `${role} ${tag}`, password: `${role}-password-123` }, admin)
    if (r.status !== 201) throw new Error(`user ${email}: ${JSON.stringify(r.body)}`)
    return { ...r.body.account, token: await api.login(email, `${role}-password-123`), password: `${role}-password-123` }
  }
  return { admin, hospital: h.body, doctor: await mk('doctor', `doctor-${tag}@example.org`), patient: await mk('patient', `patient-${tag}@example.org`) }
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
}
