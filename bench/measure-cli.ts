import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const binPath = fileURLToPath(new URL('../bin/medledger.js', import.meta.url))

export interface MeasureCliParams {
  /** The running node `record list` asks. */
  api: string
  /** A doctor or patient of that node, signed in through the CLI first (password on stdin). */
  email: string
  password: string
  /** Timed runs of each command; the median is reported. */
  runs: number
  warmups: number
}

export interface MeasureCliResult {
  /** Median wall clock of `medledger --help`, from spawn to exit. */
  helpMs: number
  /** Median wall clock of `medledger record list --json` against the node. */
  listMs: number
  /** Median wall clock of `node -e ""`, the floor any CLI run starts from. */
  nodeBaselineMs: number
  /** False when bin/medledger.js ran the sources through tsx (dist/ missing or stale): the figures are then not the CLI's. */
  compiled: boolean
  records: number
}

interface Run { ms: number; code: number | null; stdout: string; stderr: string }

function timeRun(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('exit', (code) => resolve({ ms: performance.now() - started, code, stdout, stderr }))
    child.stdin.end(input)
  })
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/**
 * Wall clock of CLI runs as a user types them: `medledger --help`, `medledger record list --json`
 * against a running node (signed in, with its own HOME), and `node -e ""` in the same rounds,
 * interleaved so that drift in the machine's speed touches all three alike.
 * @throws Error when a command fails.
 */
export async function measureCli({ api, email, password, runs, warmups }: MeasureCliParams): Promise<MeasureCliResult> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-bench-cli-'))
  try {
    const env = { ...process.env, HOME: home, MEDLEDGER_API: api }
    const login = await timeRun([binPath, 'login', '--email', email], env, `${password}\n`)
    if (login.code !== 0) throw new Error(`medledger login failed: ${login.stderr.trim()}`)
    const compiled = !/running the sources through tsx/.test(login.stderr)
    const times = { help: [] as number[], list: [] as number[], node: [] as number[] }
    let records = 0
    for (let i = 0; i < warmups + runs; i++) {
      const node = await timeRun(['-e', ''], env)
      const help = await timeRun([binPath, '--help'], env)
      const list = await timeRun([binPath, 'record', 'list', '--json'], env)
      for (const [name, r] of [['--help', help], ['record list', list]] as const) {
        if (r.code !== 0) throw new Error(`medledger ${name} exited ${r.code}: ${r.stderr.trim()}`)
      }
      records = (JSON.parse(list.stdout) as { records: unknown[] }).records.length
      if (i < warmups) continue
      times.node.push(node.ms)
      times.help.push(help.ms)
      times.list.push(list.ms)
    }
    const round = (n: number) => Math.round(n * 10) / 10
    return { helpMs: round(median(times.help)), listMs: round(median(times.list)), nodeBaselineMs: round(median(times.node)), compiled, records }
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}
