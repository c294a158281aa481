import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CliError } from './client.ts'
import { createOut } from './io.ts'
import { start } from './commands/start.ts'
import * as cmd from './commands/client-commands.ts'
import { AppError } from '../errors.ts'

const usage = `medledger — encrypted medical records in IPFS, anchored on an Ethereum ledger

Node:
  medledger start [--home DIR] [--port N] [--host H] [--chain-rpc URL] [--config FILE]

Client (talks to a node: --api URL, env MEDLEDGER_API, default http://127.0.0.1:8080;
        --json prints one JSON document; passwords are read from stdin):
  medledger status
  medledger login --email E                 keeps the session under ~/.medledger
  medledger logout [--as E]
  medledger hospital create --name N [--key-scheme x25519-hpke|rsa-oaep-4096]
  medledger hospital list
  medledger user create --role doctor|patient|staff --hospital ID_OR_ADDRESS --email E --name N [--key-scheme S]
  medledger user list [--role R] [--hospital ID]
  medledger record upload --patient EMAIL_OR_ID --file PATH [--suite S] [--type MEDIA_TYPE]
  medledger record get RECORD_ID --out PATH
  medledger record list [--patient EMAIL_OR_ID] [--limit N] [--offset N]
  medledger verify RECORD_ID... | --all     exit 0 only when everything checked is intact
Every client command takes --as E to act as a signed-in e-mail other than the last one.
Suites: aes-256-gcm (default), aes-192-gcm, aes-128-gcm, xchacha20-poly1305.`

const common = {
  api: { type: 'string' },
  as: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

const commandOptions: Record<string, ParseArgsConfig['options']> = {
  start: { home: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'chain-rpc': { type: 'string' }, config: { type: 'string' } },
  status: {},
  login: { email: { type: 'string' } },
  logout: {},
  'hospital create': { name: { type: 'string' }, 'key-scheme': { type: 'string' } },
  'hospital list': {},
  'user create': { role: { type: 'string' }, hospital: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' }, 'key-scheme': { type: 'string' } },
  'user list': { role: { type: 'string' }, hospital: { type: 'string' } },
  'record upload': { patient: { type: 'string' }, file: { type: 'string' }, suite: { type: 'string' }, type: { type: 'string' } },
  'record get': { out: { type: 'string' } },
  'record list': { patient: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } },
  verify: { all: { type: 'boolean' } },
}

/** Runs the CLI with `argv` (without node and script). */
export async function main(argv: string[]): Promise<void> {
  const [first, second] = argv
  const name = commandOptions[`${first} ${second}`] ? `${first} ${second}` : first
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage + '\n')
    return
  }
  const options = commandOptions[name]
  if (!options) throw new CliError('USAGE', `Unknown command "${argv.slice(0, 2).join(' ')}".\n\n${usage}`, 2)
  let parsed
  try {
    parsed = parseArgs({ args: argv.slice(name.split(' ').length), options: { ...common, ...options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new CliError('USAGE', `${(err as Error).message}\n\n${usage}`, 2)
  }
  const v = parsed.values as Record<string, string | boolean | undefined>
  if (v.help) {
    process.stdout.write(usage + '\n')
    return
  }
  const out = createOut(Boolean(v.json))
  const c: cmd.Common = { api: String(v.api ?? process.env.MEDLEDGER_API ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''), as: v.as as string | undefined, out }
  const f = v as Record<string, string | undefined>
  switch (name) {
    case 'start': return start(f)
    case 'status': return cmd.statusCommand(c)
    case 'login': return cmd.loginCommand(c, f)
    case 'logout': return cmd.logoutCommand(c)
    case 'hospital create': return cmd.hospitalCreate(c, f)
    case 'hospital list': return cmd.hospitalList(c)
    case 'user create': return cmd.userCreate(c, f)
    case 'user list': return cmd.userList(c, f)
    case 'record upload': return cmd.recordUpload(c, f)
    case 'record get': return cmd.recordGet(c, parsed.positionals[0], f)
    case 'record list': return cmd.recordList(c, f)
    case 'verify': return cmd.verifyCommand(c, parsed.positionals, { all: Boolean(v.all) })
  }
}

/** Entry point: errors go to stderr with a non-zero exit. */
export function run(): void {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const json = process.argv.includes('--json')
    let code = 'INTERNAL'
    let message = String(err)
    let exit = 1
    if (err instanceof CliError) { code = err.code; message = err.message; exit = err.exitCode }
    else if (err instanceof AppError) { code = err.code; message = err.message + (err.details ? ` (${err.details})` : '') }
    else if (err instanceof Error) message = err.message
    process.stderr.write(json ? JSON.stringify({ error: { code, message } }) + '\n' : `error: ${code}: ${message}\n`)
    process.exit(exit)
  })
}
