// Runs a command with one PostgreSQL test server for all of it: `npm test`'s PostgreSQL pass
// starts one throwaway cluster here (test/helpers/postgres.ts) and hands it to every test file
// as MEDLEDGER_TEST_POSTGRES_URL, instead of each file running initdb and starting a server of
// its own (2–4 s a file on this project's 2-core machine). Each node still gets a fresh
// database. A server already given in MEDLEDGER_TEST_POSTGRES_URL (CI) is used as it is.
//
//   tsx test/helpers/with-postgres.ts COMMAND [ARG…]
//
// Exits with the command's exit code; the cluster is stopped and removed when this exits. With
// no server to be had, the command runs anyway and the tests that need one fail as they would.
import { spawn } from 'node:child_process'
import { testPostgres } from './postgres.ts'

const [command, ...args] = process.argv.slice(2)
if (!command) {
  console.error('usage: tsx test/helpers/with-postgres.ts COMMAND [ARG…]')
  process.exit(2)
}
const url = await testPostgres().catch((err: Error) => {
  console.error(`with-postgres: ${err.message}`)
  return undefined
})
const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, ...(url ? { MEDLEDGER_TEST_POSTGRES_URL: url } : {}) } })
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
child.on('error', (err) => {
  console.error(`with-postgres: ${command}: ${err.message}`)
  process.exit(127)
})
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 0)))
