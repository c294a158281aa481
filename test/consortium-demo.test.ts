import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { Api, cleanup, runCli, seed, startNodeProcess, tempDir, testEnv, type NodeProcess } from './helpers/node-process.ts'

// The demo set-up: the first node's embedded chain serves a second node (`--chain-listen`), and
// the second joins through the CLI as an operator would.

const nodes: NodeProcess[] = []
const dirs: string[] = []
after(async () => {
  for (const n of nodes.reverse()) await n.stop()
  cleanup(...dirs)
})

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

test('the embedded chain of the first node serves a second node that joins, is admitted and enrols its doctors', async () => {
  const port = await freePort()
  const a = await startNodeProcess({ args: ['--chain-listen', `127.0.0.1:${port}`, '--ipfs-listen', '/ip4/127.0.0.1/tcp/0'] })
  nodes.push(a)
  dirs.push(a.home)
  const apiA = new Api(a.url)
  await seed(apiA, { hospitalName: 'Founding Hospital' })
  const stA = (await apiA.json('GET', '/status')).body
  assert.equal(stA.chainRpc, `http://127.0.0.1:${port}`)

  const b = await startNodeProcess({ args: ['--chain-rpc', stA.chainRpc, '--registry', stA.registry, '--hospital-name', 'Joining Hospital', '--ipfs-listen', '/ip4/127.0.0.1/tcp/0', '--ipfs-peer', stA.ipfsAddrs[0]] })
  nodes.push(b)
  dirs.push(b.home)
  assert.match(b.output(), /medledger hospital admit --address 0x[0-9a-f]{40} --name "Joining Hospital"/)

  const cliA = tempDir('ml-cli-a-')
  const cliB = tempDir('ml-cli-b-')
  dirs.push(cliA, cliB)
  const statusB = await runCli(['status', '--json'], { api: b.url, cliHome: cliB })
  assert.equal(statusB.code, 0, statusB.stderr)
  const sb = JSON.parse(statusB.stdout)
  assert.equal(sb.admitted, false)
  for (const key of ['registry', 'hospitalAddress', 'admitted', 'ipfsPeerId', 'ipfsAddrs', 'peers']) assert.ok(key in sb, key)

  assert.equal((await runCli(['login', '--email', testEnv.MEDLEDGER_ADMIN_EMAIL], { api: a.url, cliHome: cliA, input: testEnv.MEDLEDGER_ADMIN_PASSWORD })).code, 0)
  const admit = await runCli(['hospital', 'admit', '--address', sb.hospitalAddress, '--name', 'Joining Hospital'], { api: a.url, cliHome: cliA })
  assert.equal(admit.code, 0, admit.stderr)
  assert.match(admit.stdout, /Joining Hospital \(0x[0-9a-f]{40}\) is a member of the consortium/)

  // A's admin cannot admit what did not apply.
  const bogus = await runCli(['hospital', 'admit', '--address', `0x${'12'.repeat(20)}`, '--name', 'Nobody'], { api: a.url, cliHome: cliA })
  assert.notEqual(bogus.code, 0)
  assert.match(bogus.stderr, /NO_APPLICATION|not applied/)

  assert.equal((await runCli(['login', '--email', testEnv.MEDLEDGER_ADMIN_EMAIL], { api: b.url, cliHome: cliB, input: testEnv.MEDLEDGER_ADMIN_PASSWORD })).code, 0)
  let created
  for (let i = 0; i < 100; i++) {
    created = await runCli(['user', 'create', '--role', 'doctor', '--email', 'dr@joining.example', '--name', 'Dr Joining', '--json'], { api: b.url, cliHome: cliB, input: 'doctor-password-123' })
    if (created.code === 0 || !/NOT_ADMITTED/.test(created.stderr)) break
    await new Promise((r) => setTimeout(r, 200))
  }
  assert.equal(created!.code, 0, created!.stderr)
  const hospitals = (await new Api(b.url).json('GET', '/hospitals', undefined, await new Api(b.url).login(testEnv.MEDLEDGER_ADMIN_EMAIL, testEnv.MEDLEDGER_ADMIN_PASSWORD))).body.hospitals
  const own = hospitals.find((h: { address: string }) => h.address === sb.hospitalAddress)
  assert.equal(JSON.parse(created!.stdout).hospitalId, own.id)
  assert.equal(own.status, 'active')
  assert.ok(hospitals.some((h: { name: string; status: string }) => h.name === 'Founding Hospital' && h.status === 'remote'))
})
