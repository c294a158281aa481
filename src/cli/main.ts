import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CliError } from './client.ts'
import { createOut } from './io.ts'
import type { Common } from './commands/client-commands.ts'
import { AppError } from '../errors.ts'

// Each command's module is imported only when that command runs: a client command never loads
// the node (viem, Helia, Fastify, the database), and `--help` loads no command at all.
const nodeCommand = () => import('./commands/start.ts')
const backupCommands = () => import('./commands/backup.ts')
const clientCommands = () => import('./commands/client-commands.ts')
const consentCommands = () => import('./commands/consent.ts')
const mailCommands = () => import('./commands/mail.ts')
const mfaCommands = () => import('./commands/mfa.ts')

const usage = `medledger — encrypted medical records in IPFS, anchored on an Ethereum ledger

Node:
  medledger start [--home DIR] [--port N] [--host H] [--chain-rpc URL] [--db URL] [--config FILE]
                  --db: postgres://USER:PASSWORD@HOST/DB (default: SQLite in the home)
                  [--public-url URL]   where users reach the portal (https://records.example.org): links in mail and
                                       the only site wallet sign-in accepts (default: the listening address)
  Consortium (several hospital nodes on one chain, IPFS peered):
  medledger start --chain-rpc URL [--ipfs-listen MULTIADDR]…        found a consortium on an existing chain
  medledger start --chain-rpc URL --registry ADDRESS [--hospital-name N] [--ipfs-listen MULTIADDR] [--ipfs-peer MULTIADDR]…
                                                                   join one; waits read-only until admitted
                  [--chain-listen HOST:PORT]   the embedded chain serves other nodes (demo/tests; loopback by default)
                  [--chain-dev-methods]        the embedded chain also serves anvil's dev methods (evm_*, anvil_*,
                                               unsigned transactions): tests and demos only
                  [--replicas R]               member nodes besides the home node that keep each record (default 1)
  medledger start --api-only --home DIR --db postgres://… --chain-rpc URL [--port N]
                                                                   one more API process for the node on DIR
  Backups (with the node stopped; --db as for start):
  medledger backup export [--home DIR] --out FILE.car [--db URL] [--all]   the hospital's records' blocks (--all: replicas too)
  medledger backup import [--home DIR] FILE.car [--db URL]                 verify every block, store, pin the known records

Client (talks to a node: --api URL, env MEDLEDGER_API, default http://127.0.0.1:8080;
        --json prints one JSON document; passwords are read from stdin):
  medledger status
  medledger login --email E [--totp CODE]   keeps the session under ~/.medledger; --totp once MFA is on
  medledger mfa enroll | mfa verify CODE    two-factor sign-in: authenticator app (TOTP), then recovery codes
  medledger mfa disable --code CODE         turn it off (a code from the app or a recovery code)
                                            (all three read your current password from stdin)
  medledger logout [--as E]
  medledger hospital create --name N [--key-scheme x25519-hpke|rsa-oaep-4096]
  medledger hospital list
  medledger hospital admit --address ADDR --name N   admit a hospital that applied from its own node
  medledger user create --role doctor|patient|staff [--hospital ID_OR_ADDRESS] --email E --name N [--key-scheme S]
                        --hospital defaults to the node's own hospital
  medledger user list [--role R] [--hospital ID]
  medledger user mfa-reset ID               staff (own hospital's doctors, patients) or admin: reset a member's
                                            two-factor sign-in (your password on stdin); the member is mailed
  medledger account-events [--account ID]   admin: audit log of sign-in factor changes (TOTP, resets, recoveries)
  medledger record upload --patient EMAIL_OR_ID --file PATH [--suite S] [--type MEDIA_TYPE]
  medledger record get RECORD_ID --out PATH
  medledger record list [--patient EMAIL_OR_ID] [--limit N] [--offset N]
  medledger verify RECORD_ID... | --all     exit 0 only when everything checked is intact
  medledger record get RECORD_ID --token TOKEN --out PATH     with a share token, no session needed
  medledger signup --role doctor|patient --hospital ID --email E --name N [--licence L]   (password on stdin)
  medledger doctor pending | doctor confirm ID | doctor reject ID --reason TEXT
  medledger hospital vote ID --approve|--reject
  medledger access request --patient P       P: e-mail or id here, or a ledger address (0x…) of any member's patient
  medledger access request --patient P [--records ID,ID] --purpose TEXT --days N
  medledger access approve REQUEST_ID [--days N] [--records ID,ID]
  medledger access deny REQUEST_ID --reason TEXT | access revoke REQUEST_ID | access list
  medledger share create --records ID,ID (--to EMAIL | --token) [--days N] [--once]
  medledger share revoke SHARE_ID | share list
  medledger emergency open --patient P --reason TEXT | emergency list
  medledger audit --patient P | --record ID
  medledger mail list [--limit N] [--offset N]   your notifications, newest first
Every client command takes --as E to act as a signed-in e-mail other than the last one.
Suites: aes-256-gcm (default), aes-192-gcm, aes-128-gcm, xchacha20-poly1305.`

const common = {
  api: { type: 'string' },
  as: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

const commandOptions: Record<string, ParseArgsConfig['options']> = {
  start: {
    home: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'chain-rpc': { type: 'string' }, db: { type: 'string' }, config: { type: 'string' }, 'public-url': { type: 'string' },
    registry: { type: 'string' }, 'chain-listen': { type: 'string' }, 'chain-dev-methods': { type: 'boolean' }, 'ipfs-listen': { type: 'string', multiple: true }, 'ipfs-peer': { type: 'string', multiple: true },
    replicas: { type: 'string' }, 'hospital-name': { type: 'string' }, 'api-only': { type: 'boolean' },
  },
  'backup export': { home: { type: 'string' }, out: { type: 'string' }, db: { type: 'string' }, all: { type: 'boolean' } },
  'backup import': { home: { type: 'string' }, db: { type: 'string' } },
  'hospital admit': { address: { type: 'string' }, name: { type: 'string' } },
  status: {},
  login: { email: { type: 'string' }, totp: { type: 'string' } },
  'mfa enroll': {},
  'mfa verify': {},
  'mfa disable': { code: { type: 'string' } },
  logout: {},
  'hospital create': { name: { type: 'string' }, 'key-scheme': { type: 'string' } },
  'hospital list': {},
  'user create': { role: { type: 'string' }, hospital: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' }, 'key-scheme': { type: 'string' } },
  'user list': { role: { type: 'string' }, hospital: { type: 'string' } },
  'user mfa-reset': {},
  'account-events': { account: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } },
  'record upload': { patient: { type: 'string' }, file: { type: 'string' }, suite: { type: 'string' }, type: { type: 'string' } },
  'record get': { out: { type: 'string' }, token: { type: 'string' } },
  'record list': { patient: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } },
  verify: { all: { type: 'boolean' } },
  'mail list': { limit: { type: 'string' }, offset: { type: 'string' } },
  signup: { role: { type: 'string' }, hospital: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' }, licence: { type: 'string' }, 'key-scheme': { type: 'string' } },
  'doctor confirm': {},
  'doctor reject': { reason: { type: 'string' } },
  'doctor pending': {},
  'hospital vote': { approve: { type: 'boolean' }, reject: { type: 'boolean' } },
  'access request': { patient: { type: 'string' }, records: { type: 'string' }, purpose: { type: 'string' }, days: { type: 'string' } },
  'access approve': { days: { type: 'string' }, records: { type: 'string' } },
  'access deny': { reason: { type: 'string' } },
  'access revoke': {},
  'access list': {},
  'share create': { records: { type: 'string' }, to: { type: 'string' }, token: { type: 'boolean' }, days: { type: 'string' }, once: { type: 'boolean' } },
  'share revoke': {},
  'share list': {},
  'emergency open': { patient: { type: 'string' }, reason: { type: 'string' } },
  'emergency list': {},
  audit: { patient: { type: 'string' }, record: { type: 'string' } },
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
  const c: Common = { api: String(v.api ?? process.env.MEDLEDGER_API ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''), as: v.as as string | undefined, out }
  const f = v as Record<string, string | undefined>
  switch (name) {
    case 'start': return (await nodeCommand()).start(v as never)
    case 'backup export': return (await backupCommands()).backupExport(out, v)
    case 'backup import': return (await backupCommands()).backupImport(out, parsed.positionals[0], v)
    case 'status': return (await clientCommands()).statusCommand(c)
    case 'login': return (await clientCommands()).loginCommand(c, f)
    case 'logout': return (await clientCommands()).logoutCommand(c)
    case 'mfa enroll': return (await mfaCommands()).mfaEnroll(c)
    case 'mfa verify': return (await mfaCommands()).mfaVerify(c, parsed.positionals[0])
    case 'mfa disable': return (await mfaCommands()).mfaDisable(c, f)
    case 'hospital create': return (await clientCommands()).hospitalCreate(c, f)
    case 'hospital list': return (await clientCommands()).hospitalList(c)
    case 'hospital admit': return (await clientCommands()).hospitalAdmit(c, f)
    case 'user create': return (await clientCommands()).userCreate(c, f)
    case 'user list': return (await clientCommands()).userList(c, f)
    case 'user mfa-reset': return (await mfaCommands()).userMfaReset(c, parsed.positionals[0])
    case 'account-events': return (await mfaCommands()).accountEvents(c, f)
    case 'record upload': return (await clientCommands()).recordUpload(c, f)
    case 'record get': return (await clientCommands()).recordGet(c, parsed.positionals[0], f)
    case 'record list': return (await clientCommands()).recordList(c, f)
    case 'verify': return (await clientCommands()).verifyCommand(c, parsed.positionals, { all: Boolean(v.all) })
    case 'mail list': return (await mailCommands()).mailList(c, f)
    case 'signup': return (await clientCommands()).signupCommand(c, f)
    case 'doctor confirm': return (await clientCommands()).doctorDecide(c, parsed.positionals[0], 'confirm', f)
    case 'doctor reject': return (await clientCommands()).doctorDecide(c, parsed.positionals[0], 'reject', f)
    case 'doctor pending': return (await clientCommands()).doctorPending(c)
    case 'hospital vote': return (await clientCommands()).hospitalVote(c, parsed.positionals[0], { approve: Boolean(v.approve), reject: Boolean(v.reject) })
    case 'access request': return (await consentCommands()).accessRequest(c, f)
    case 'access approve': return (await consentCommands()).accessApprove(c, parsed.positionals[0], f)
    case 'access deny': return (await consentCommands()).accessDeny(c, parsed.positionals[0], f)
    case 'access revoke': return (await consentCommands()).accessRevoke(c, parsed.positionals[0])
    case 'access list': return (await consentCommands()).accessList(c)
    case 'share create': return (await consentCommands()).shareCreate(c, { ...f, token: Boolean(v.token), once: Boolean(v.once) })
    case 'share revoke': return (await consentCommands()).shareRevoke(c, parsed.positionals[0])
    case 'share list': return (await consentCommands()).shareList(c)
    case 'emergency open': return (await consentCommands()).emergencyOpen(c, f)
    case 'emergency list': return (await consentCommands()).emergencyList(c)
    case 'audit': return (await consentCommands()).audit(c, f)
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
