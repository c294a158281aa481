import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

const install = 'install it with `apt-get install -y postgresql` (Debian), or set MEDLEDGER_TEST_POSTGRES_URL to a server URL'

let server: Promise<string> | undefined

/**
 * A PostgreSQL server for tests, as a URL whose role may create databases: the server in
 * `MEDLEDGER_TEST_POSTGRES_URL` when set (CI), otherwise a throwaway cluster of this machine's
 * PostgreSQL binaries on a temp dir and a free loopback port, stopped when this process exits.
 * @throws Error naming how to install PostgreSQL when neither is available.
 */
export function testPostgres(): Promise<string> {
  server ??= process.env.MEDLEDGER_TEST_POSTGRES_URL ? Promise.resolve(process.env.MEDLEDGER_TEST_POSTGRES_URL) : startPrivateCluster()
  return server
}

/** A fresh, empty database on the test server (`medledger_<random>`), as a URL. */
export async function createTestDatabase(): Promise<string> {
  const url = new URL(await testPostgres())
  const name = `medledger_${randomBytes(6).toString('hex')}`
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  url.pathname = `/${name}`
  return url.toString()
}

function binDir(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : []
  if (versions.length === 0) throw new Error(`PostgreSQL tests need a server: no MEDLEDGER_TEST_POSTGRES_URL and no ${root}/*/bin/initdb; ${install}.`)
  return join(root, versions[0], 'bin')
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as { port: number }
  await new Promise((r) => srv.close(r))
  return port
}

async function startPrivateCluster(): Promise<string> {
  const bin = binDir()
  const dir = mkdtempSync(join(tmpdir(), 'ml-pg-'))
  // initdb refuses to run as root: the cluster belongs to `nobody` then.
  const asRoot = process.getuid?.() === 0
  // setpriv also has the server die with this process (--pdeathsig), even when it is killed.
  const run = (cmd: string, args: string[]) => ['setpriv', [...(asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups'] : []), '--pdeathsig', 'SIGQUIT', join(bin, cmd), ...args]] as const
  if (asRoot) chownSync(dir, 65534, 65534)
  const data = join(dir, 'data')
  const [initCmd, initArgs] = run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'])
  const init = spawnSync(initCmd, [...initArgs], { cwd: dir, encoding: 'utf8' })
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`PostgreSQL tests: initdb failed (${init.error?.message ?? init.stderr.trim()}); ${install}.`)
  }
  const port = await freePort()
  const logFile = join(dir, 'postgres.log')
  const log = openSync(logFile, 'a')
  if (asRoot) chownSync(logFile, 65534, 65534)
  // Durability is not under test here; speed is welcome.
  const [pgCmd, pgArgs] = run('postgres', ['-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port),
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'])
  const child = spawn(pgCmd, [...pgArgs], { cwd: dir, stdio: ['ignore', log, log] })
  child.unref()
  const stop = () => {
    // Immediate shutdown: the cluster is thrown away.
    try { child.kill('SIGQUIT') } catch { /* gone */ }
    for (let i = 0; i < 250 && isRunning(child.pid!); i++) spawnSync('sleep', ['0.02'])
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 5 }) } catch { /* a temp dir left behind */ }
  }
  process.once('exit', stop)
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const until = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`PostgreSQL tests: the private server exited (${child.exitCode}):\n${readFileSync(logFile, 'utf8')}`)
    const client = new pg.Client({ connectionString: url })
    try {
      await client.connect()
      await client.end()
      return url
    } catch {
      await client.end().catch(() => {})
      if (Date.now() > until) throw new Error(`PostgreSQL tests: the private server did not accept connections in 30 s:\n${readFileSync(logFile, 'utf8')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** Alive and not a zombie (at exit, nobody reaps the child any more). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}
