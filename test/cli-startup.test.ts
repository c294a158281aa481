import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Api, cleanup, root, runCli, seed, startNodeProcess, tempDir, type CliResult, type NodeProcess } from './helpers/node-process.ts'

// What a CLI run loads, without timing anything: a preloaded module reports every module file
// the process loads (through a loader hook) and, at exit, whether fetch's HTTP stack (undici,
// compiled WebAssembly included) was loaded.
const tracerDir = tempDir('ml-cli-trace-')
const tracer = join(tracerDir, 'trace.mjs')
writeFileSync(tracer, `
import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`export async function load(url, context, next) {
  if (url.startsWith('file:')) process.stderr.write('TRACE-LOADED ' + url + '\\\\n')
  return next(url, context)
}\`))
process.on('exit', () => process.stderr.write('TRACE-UNDICI ' + process.moduleLoadList.some((m) => m.includes('undici')) + '\\n'))
`)
const traced = { NODE_OPTIONS: `--import ${pathToFileURL(tracer).href}` }
after(() => cleanup(tracerDir))

interface Trace { files: string[]; undici: boolean; stderr: string }
function trace(r: CliResult, projectRoot = root): Trace {
  const lines = r.stderr.split('\n')
  return {
    files: lines.filter((l) => l.startsWith('TRACE-LOADED ')).map((l) => relative(projectRoot, new URL(l.slice('TRACE-LOADED '.length)).pathname)),
    undici: lines.includes('TRACE-UNDICI true'),
    stderr: lines.filter((l) => !l.startsWith('TRACE-')).join('\n'),
  }
}

const nodeParts = /^node_modules\/(viem|helia|@helia|libp2p|@libp2p|fastify|@fastify|better-sqlite3|pg|@node-rs|blockstore-fs|vite|solc|nodemailer)\/|^(src|dist)\/(node|ledger|storage|records|consent|consortium|db|api|accounts|network|notify|crypto)\//

/** Runs a script of a project directory like a user's shell would, with the tracer preloaded. */
function runNode(cwd: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...traced }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('CLI start-up: each command loads only its own code', () => {
  let node: NodeProcess
  const cliHome = tempDir('ml-cli-startup-')
  let recordId = ''

  before(async () => {
    node = await startNodeProcess()
    const api = new Api(node.url)
    const { doctor, patient } = await seed(api, { tag: 'startup' })
    const up = await api.upload(doctor.token, patient.email, 'note.txt', new TextEncoder().encode('a short clinical note'))
    assert.equal(up.status, 201, JSON.stringify(up.body))
    recordId = up.body.recordId
    const login = await runCli(['login', '--email', patient.email], { api: node.url, cliHome, input: `${patient.password}\n` })
    assert.equal(login.code, 0, login.stderr)
  })
  after(async () => {
    await node?.stop()
    cleanup(node?.home, cliHome)
  })

  it('--help loads no command module and no dependency', async () => {
    const r = await runCli(['--help'], { api: node.url, cliHome, env: traced })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /medledger record list/)
    const t = trace(r)
    assert.ok(t.files.some((f) => /^(src|dist)\/cli\/main\.(ts|js)$/.test(f)), t.files.join('\n'))
    assert.deepEqual(t.files.filter((f) => f.includes('/commands/') || (f.startsWith('node_modules/') && !f.startsWith('node_modules/tsx/') && !f.startsWith('node_modules/esbuild/'))), [])
    assert.equal(t.undici, false)
  })

  it('record list --json lists the record without loading the node, its libraries or fetch', async () => {
    const r = await runCli(['record', 'list', '--json'], { api: node.url, cliHome, env: traced })
    assert.equal(r.code, 0, r.stderr)
    const listed = JSON.parse(r.stdout) as { records: { recordId: string; fileName: string }[]; total: number }
    assert.equal(listed.total, 1)
    assert.equal(listed.records[0].recordId, recordId)
    assert.equal(listed.records[0].fileName, 'note.txt')
    const t = trace(r)
    assert.ok(t.files.some((f) => /^(src|dist)\/cli\/commands\/record-list\.(ts|js)$/.test(f)), t.files.join('\n'))
    assert.deepEqual(t.files.filter((f) => nodeParts.test(f) || (f.includes('/commands/') && !/\/commands\/record-list\./.test(f))), [], 'no other command\'s module')
    assert.equal(t.undici, false, 'a JSON call does not load fetch')
  })

  it('errors of JSON calls keep their codes: the node\'s { code, message }, and an unreachable node', async () => {
    const refused = await runCli(['hospital', 'create', '--name', 'Not Mine', '--json'], { api: node.url, cliHome })
    assert.equal(refused.code, 1)
    assert.deepEqual(JSON.parse(refused.stderr.trim().split('\n').at(-1)!), { error: { code: 'FORBIDDEN', message: 'Your role does not allow this operation.' } })
    const down = await runCli(['status', '--json'], { api: 'http://127.0.0.1:1', cliHome })
    assert.equal(down.code, 1)
    const error = JSON.parse(down.stderr.trim().split('\n').at(-1)!).error
    assert.equal(error.code, 'NODE_UNREACHABLE')
    assert.match(error.message, /^Cannot reach the node at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/)
  })
})

describe('CLI: commands that need a session', () => {
  const cliHome = tempDir('ml-cli-nosession-')
  after(() => cleanup(cliHome))

  it('each names the missing session, --as E included, whatever module holds the command', async () => {
    const api = 'http://127.0.0.1:9'
    for (const args of [['access', 'list'], ['share', 'list'], ['audit', '--record', 'r1'], ['emergency', 'list'], ['record', 'list'], ['mail', 'list']]) {
      const r = await runCli([...args, '--as', 'nobody@example.org', '--json'], { api, cliHome })
      assert.equal(r.code, 1, args.join(' '))
      assert.deepEqual(JSON.parse(r.stderr.trim().split('\n').at(-1)!), { error: { code: 'UNAUTHENTICATED', message: `No session for nobody@example.org on ${api}: run \`medledger login --email nobody@example.org\`.` } }, args.join(' '))
    }
  })
})

describe('bin/medledger.js runs the compiled JavaScript, and the sources while they are newer', () => {
  // A copy of the project (sources, bin, build script; node_modules linked), so building and
  // touching sources here never disturbs the checkout.
  const project = tempDir('ml-cli-build-')
  before(() => {
    for (const part of ['bin', 'scripts', 'package.json', 'tsconfig.json']) cpSync(join(root, part), join(project, part), { recursive: true })
    cpSync(join(root, 'src'), join(project, 'src'), { recursive: true, filter: (from) => from !== join(root, 'src', 'web') })
    symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'))
    mkdirSync(join(project, 'build'))
  })
  after(() => cleanup(project))

  const help = () => runNode(project, [join(project, 'bin', 'medledger.js'), '--help'])
  const build = () => runNode(project, ['--import', 'tsx', join(project, 'scripts', 'build-node.ts')])
  const sources = (dir: string, ext: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ext) && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && !f.startsWith('web/'))
    .map((f) => f.slice(0, -ext.length))
    .sort()

  it('without a build it runs the sources through tsx and says so in one line', async () => {
    const r = await help()
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /medledger record list/)
    const t = trace(r, project)
    assert.ok(t.files.includes('src/cli/main.ts'), t.files.join('\n'))
    assert.equal(t.stderr.trim().split('\n').length, 1)
    assert.match(t.stderr, /dist\/ is missing or older than src\/: running the sources through tsx/)
  })

  it('builds one .js per source (no tests, no src/web) into dist/, then runs it without tsx and silently', async () => {
    const b = await build()
    assert.equal(b.code, 0, b.stderr)
    assert.match(b.stdout, /compiled \d+ modules → dist\//)
    assert.deepEqual(sources(join(project, 'dist'), '.js'), sources(join(project, 'src'), '.ts'))
    assert.ok(!existsSync(join(project, 'dist', 'web')))
    assert.equal((await build()).stdout.trim(), 'dist/ is up to date')

    const r = await help()
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /medledger record list/)
    const t = trace(r, project)
    assert.ok(t.files.includes('dist/cli/main.js'), t.files.join('\n'))
    assert.deepEqual(t.files.filter((f) => f.endsWith('.ts') || f.startsWith('node_modules/')), [])
    assert.equal(t.stderr.trim(), '')
  })

  it('a source newer than the build runs the sources again, until the next build', async () => {
    const later = new Date(Date.now() + 5_000)
    utimesSync(join(project, 'src', 'cli', 'io.ts'), later, later)
    const stale = await help()
    assert.equal(stale.code, 0, stale.stderr)
    assert.ok(trace(stale, project).files.includes('src/cli/main.ts'))
    assert.match(stale.stderr, /older than src\//)

    // The build stamps its start: wait until the touched source is in the past.
    await new Promise((r) => setTimeout(r, Math.max(0, later.getTime() - Date.now()) + 50))
    assert.equal((await build()).code, 0)
    const fresh = await help()
    assert.ok(trace(fresh, project).files.includes('dist/cli/main.js'))
    assert.equal(trace(fresh, project).stderr.trim(), '')
  })
})
