import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CliError } from './client.ts'
import { createOut } from './io.ts'
import type { Common } from './session.ts'
import { AppError } from '../errors.ts'

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
  medledger record upload --patient EMAIL_OR_ID --file PATH [--suite S] [--type MEDIA_TYPE] [--tag TAG]...
  medledger record get RECORD_ID --out PATH
  medledger record list [--patient EMAIL_OR_ID] [--limit N] [--offset N]
  medledger record search "TEXT" [--patient EMAIL_OR_ID]     records you may read matching every word (3+ letters: prefixes)
  medledger record search-key rotate                         (patient) a new search key; your records re-indexed
  medledger record rekey RECORD_ID [--allow-author]          (patient, or the author once allowed) re-encrypt under a new
                                                             data key for whoever may read it now (JSON with the new
                                                             recordId); --allow-author: the patient lets the author do it once
  medledger record rekey --all-emergency                     (staff/admin) move the hospital's records from before threshold
                                                             break-glass to shares among member hospitals; retire its emergency key
  medledger verify RECORD_ID... | --all     exit 0 only when everything checked is intact
  medledger record erase RECORD_ID --reason TEXT              (patient) ask the hospital to erase a record (prints erasureId)
  medledger erasure list [--status S] | erasure confirm ERASURE_ID | erasure reject ERASURE_ID --reason TEXT
                                                             (staff, admin) decide: confirmed, the record is crypto-shredded
  medledger recovery start PATIENT_ID --verified-by-id TEXT   (staff) recover a patient who lost every secret (prints a one-time code)
  medledger recovery approve RECOVERY_ID | recovery list      (a second staff member or the admin) approve it
  medledger record get RECORD_ID --token TOKEN --out PATH     with a share token, no session needed
  medledger signup --role doctor|patient|researcher --hospital ID --email E --name N [--licence L]   (password on stdin)
  medledger doctor pending | doctor confirm ID | doctor reject ID --reason TEXT
  medledger researcher pending | researcher confirm ID | researcher reject ID --reason TEXT
  medledger study create --title T --purpose TEXT [--min-k N]   researcher: propose a study (JSON with studyId)
  medledger study approve ID | study reject ID | study list      admin decides; everyone lists what they may see
  medledger study export ID --out DIR [--timeout S]   researcher: de-identified NDJSON per type + manifest.json, from every node home to consenting patients
  medledger research consent --study ID | research withdraw --study ID   patient: research consent (HRESCH)
  medledger research consent --hospital ID | research withdraw --hospital ID   patient: every approved study of a hospital
  medledger hospital vote ID --approve|--reject
  medledger access request --patient P       P: e-mail or id here, or a ledger address (0x…) of any member's patient
  medledger access request --patient P [--records ID,ID] --purpose TEXT --days N
  medledger access approve REQUEST_ID [--days N] [--records ID,ID]
  medledger access deny REQUEST_ID --reason TEXT | access revoke REQUEST_ID | access list
  medledger share create --records ID,ID (--to EMAIL | --token) [--days N] [--once]
  medledger share revoke SHARE_ID | share list
  medledger team create --name N            staff or admin: a care team (JSON with teamId)
  medledger team add TEAM_ID --doctor D | team remove TEAM_ID --doctor D | team list
  medledger grant --team TEAM_ID [--days N] | grant revoke --team TEAM_ID   patient: a care team reads all your records
  medledger emergency open --patient P --reason TEXT | emergency list
  medledger audit --patient P | --record ID
  medledger mail list [--limit N] [--offset N]   your notifications, newest first
Every client command takes --as E to act as a signed-in e-mail other than the last one.
Suites: aes-256-gcm (default), aes-192-gcm, aes-128-gcm, xchacha20-poly1305.`

type Options = NonNullable<ParseArgsConfig['options']>

const common = {
  api: { type: 'string' },
  as: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options

const text = { type: 'string' } as const
const texts = { type: 'string', multiple: true } as const
const flag = { type: 'boolean' } as const

/** One run's flags (the common ones and the command's own) and positional arguments, typed from the options. */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof common & O; allowPositionals: true; strict: true }>>

/** What the code of a command gets: its flags, its positional arguments, and the client context. */
interface Invocation<O extends Options> { flags: Parsed<O>['values']; args: string[]; c: Common }

/** A command, given the arguments after its name. */
type Command = (args: string[]) => Promise<void>

/**
 * A command with its own flags besides the common ones; `run` imports the command's module, so a
 * run loads only the code of its own command (a client command never loads the node: viem,
 * Helia, Fastify, the database), and `--help` loads none.
 */
function command<const O extends Options>(options: O, run: (i: Invocation<O>) => Promise<void>): Command {
  return async (args) => {
    let parsed: Parsed<O>
    try {
      parsed = parseArgs({ args, options: { ...common, ...options }, allowPositionals: true, strict: true })
    } catch (err) {
      throw new CliError('USAGE', `${(err as Error).message}\n\n${usage}`, 2)
    }
    const flags = parsed.values
    const { api, as, json, help }: Parsed<{}>['values'] = flags
    if (help) {
      process.stdout.write(usage + '\n')
      return
    }
    const c: Common = { api: (api ?? process.env.MEDLEDGER_API ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''), as, out: createOut(Boolean(json)) }
    return run({ flags, args: parsed.positionals, c })
  }
}

const commands: Record<string, Command> = {
  start: command({
    home: text, port: text, host: text, 'chain-rpc': text, db: text, config: text, 'public-url': text,
    registry: text, 'chain-listen': text, 'chain-dev-methods': flag, 'ipfs-listen': texts, 'ipfs-peer': texts,
    replicas: text, 'hospital-name': text, 'api-only': flag,
  }, async ({ flags }) => (await import('./commands/start.ts')).start(flags)),
  'backup export': command({ home: text, out: text, db: text, all: flag }, async ({ flags, c }) => (await import('./commands/backup.ts')).backupExport(c.out, flags)),
  'backup import': command({ home: text, db: text }, async ({ flags, args, c }) => (await import('./commands/backup.ts')).backupImport(c.out, args[0], flags)),
  status: command({}, async ({ c }) => (await import('./commands/status.ts')).status(c)),
  login: command({ email: text, totp: text }, async ({ flags, c }) => (await import('./commands/login.ts')).login(c, flags)),
  logout: command({}, async ({ c }) => (await import('./commands/logout.ts')).logout(c)),
  'mfa enroll': command({}, async ({ c }) => (await import('./commands/mfa.ts')).mfaEnroll(c)),
  'mfa verify': command({}, async ({ args, c }) => (await import('./commands/mfa.ts')).mfaVerify(c, args[0])),
  'mfa disable': command({ code: text }, async ({ flags, c }) => (await import('./commands/mfa.ts')).mfaDisable(c, flags)),
  'hospital create': command({ name: text, 'key-scheme': text }, async ({ flags, c }) => (await import('./commands/hospital.ts')).hospitalCreate(c, flags)),
  'hospital list': command({}, async ({ c }) => (await import('./commands/hospital.ts')).hospitalList(c)),
  'hospital admit': command({ address: text, name: text }, async ({ flags, c }) => (await import('./commands/hospital.ts')).hospitalAdmit(c, flags)),
  'hospital vote': command({ approve: flag, reject: flag }, async ({ flags, args, c }) => (await import('./commands/hospital.ts')).hospitalVote(c, args[0], { approve: Boolean(flags.approve), reject: Boolean(flags.reject) })),
  'user create': command({ role: text, hospital: text, email: text, name: text, 'key-scheme': text }, async ({ flags, c }) => (await import('./commands/user.ts')).userCreate(c, flags)),
  'user list': command({ role: text, hospital: text }, async ({ flags, c }) => (await import('./commands/user.ts')).userList(c, flags)),
  'user mfa-reset': command({}, async ({ args, c }) => (await import('./commands/user.ts')).userMfaReset(c, args[0])),
  'account-events': command({ account: text, limit: text, offset: text }, async ({ flags, c }) => (await import('./commands/account-events.ts')).accountEvents(c, flags)),
  'record upload': command({ patient: text, file: text, suite: text, type: text, tag: texts }, async ({ flags, c }) => (await import('./commands/record-upload.ts')).recordUpload(c, flags)),
  'record get': command({ out: text, token: text }, async ({ flags, args, c }) => (await import('./commands/record-get.ts')).recordGet(c, args[0], flags)),
  'record list': command({ patient: text, limit: text, offset: text }, async ({ flags, c }) => (await import('./commands/record-list.ts')).recordList(c, flags)),
  'record search': command({ patient: text, limit: text, offset: text }, async ({ flags, args, c }) => (await import('./commands/record-search.ts')).recordSearch(c, args[0], flags)),
  'record search-key': command({}, async ({ args, c }) => (await import('./commands/record-search.ts')).recordSearchKey(c, args[0])),
  'record rekey': command({ 'allow-author': flag, 'all-emergency': flag }, async ({ flags, args, c }) => flags['all-emergency']
    ? (await import('./commands/record-rekey-all-emergency.ts')).recordRekeyAllEmergency(c)
    : (await import('./commands/record-rekey.ts')).recordRekey(c, args[0], { 'allow-author': Boolean(flags['allow-author']) })),
  'record erase': command({ reason: text }, async ({ flags, args, c }) => (await import('./commands/erasure.ts')).recordErase(c, args[0], flags)),
  'erasure confirm': command({}, async ({ args, c }) => (await import('./commands/erasure.ts')).erasureConfirm(c, args[0])),
  'erasure reject': command({ reason: text }, async ({ flags, args, c }) => (await import('./commands/erasure.ts')).erasureReject(c, args[0], flags)),
  'recovery start': command({ 'verified-by-id': text }, async ({ flags, args, c }) => (await import('./commands/recovery.ts')).recoveryStart(c, args[0], flags)),
  'recovery approve': command({}, async ({ args, c }) => (await import('./commands/recovery.ts')).recoveryApprove(c, args[0])),
  'recovery list': command({}, async ({ c }) => (await import('./commands/recovery.ts')).recoveryList(c)),
  'erasure list': command({ status: text }, async ({ flags, c }) => (await import('./commands/erasure.ts')).erasureList(c, flags)),
  verify: command({ all: flag }, async ({ flags, args, c }) => (await import('./commands/verify.ts')).verify(c, args, { all: Boolean(flags.all) })),
  'mail list': command({ limit: text, offset: text }, async ({ flags, c }) => (await import('./commands/mail.ts')).mailList(c, flags)),
  signup: command({ role: text, hospital: text, email: text, name: text, licence: text, 'key-scheme': text }, async ({ flags, c }) => (await import('./commands/signup.ts')).signup(c, flags)),
  'doctor pending': command({}, async ({ c }) => (await import('./commands/doctor.ts')).doctorPending(c)),
  'doctor confirm': command({}, async ({ args, c }) => (await import('./commands/doctor.ts')).doctorDecide(c, args[0], 'confirm', {})),
  'doctor reject': command({ reason: text }, async ({ flags, args, c }) => (await import('./commands/doctor.ts')).doctorDecide(c, args[0], 'reject', flags)),
  'researcher pending': command({}, async ({ c }) => (await import('./commands/researcher.ts')).researcherPending(c)),
  'researcher confirm': command({}, async ({ args, c }) => (await import('./commands/researcher.ts')).researcherDecide(c, args[0], 'confirm', {})),
  'researcher reject': command({ reason: text }, async ({ flags, args, c }) => (await import('./commands/researcher.ts')).researcherDecide(c, args[0], 'reject', flags)),
  'study create': command({ title: text, purpose: text, 'min-k': text }, async ({ flags, c }) => (await import('./commands/study.ts')).studyCreate(c, flags)),
  'study approve': command({}, async ({ args, c }) => (await import('./commands/study.ts')).studyDecide(c, args[0], 'approve')),
  'study reject': command({}, async ({ args, c }) => (await import('./commands/study.ts')).studyDecide(c, args[0], 'reject')),
  'study list': command({}, async ({ c }) => (await import('./commands/study.ts')).studyList(c)),
  'study export': command({ out: text, timeout: text }, async ({ flags, args, c }) => (await import('./commands/study.ts')).studyExport(c, args[0], flags)),
  'research consent': command({ study: text, hospital: text }, async ({ flags, c }) => (await import('./commands/research.ts')).researchConsent(c, 'consent', flags)),
  'research withdraw': command({ study: text, hospital: text }, async ({ flags, c }) => (await import('./commands/research.ts')).researchConsent(c, 'withdraw', flags)),
  'access request': command({ patient: text, records: text, purpose: text, days: text }, async ({ flags, c }) => (await import('./commands/access.ts')).accessRequest(c, flags)),
  'access approve': command({ days: text, records: text }, async ({ flags, args, c }) => (await import('./commands/access.ts')).accessApprove(c, args[0], flags)),
  'access deny': command({ reason: text }, async ({ flags, args, c }) => (await import('./commands/access.ts')).accessDeny(c, args[0], flags)),
  'access revoke': command({}, async ({ args, c }) => (await import('./commands/access.ts')).accessRevoke(c, args[0])),
  'access list': command({}, async ({ c }) => (await import('./commands/access.ts')).accessList(c)),
  'share create': command({ records: text, to: text, token: flag, days: text, once: flag }, async ({ flags, c }) => (await import('./commands/share.ts')).shareCreate(c, flags)),
  'share revoke': command({}, async ({ args, c }) => (await import('./commands/share.ts')).shareRevoke(c, args[0])),
  'share list': command({}, async ({ c }) => (await import('./commands/share.ts')).shareList(c)),
  'team create': command({ name: text }, async ({ flags, c }) => (await import('./commands/team.ts')).teamCreate(c, flags)),
  'team add': command({ doctor: text }, async ({ flags, args, c }) => (await import('./commands/team.ts')).teamMember(c, args[0], flags, 'add')),
  'team remove': command({ doctor: text }, async ({ flags, args, c }) => (await import('./commands/team.ts')).teamMember(c, args[0], flags, 'remove')),
  'team list': command({}, async ({ c }) => (await import('./commands/team.ts')).teamList(c)),
  grant: command({ team: text, days: text }, async ({ flags, c }) => (await import('./commands/team.ts')).grant(c, flags)),
  'grant revoke': command({ team: text }, async ({ flags, c }) => (await import('./commands/team.ts')).grant(c, flags, true)),
  'emergency open': command({ patient: text, reason: text }, async ({ flags, c }) => (await import('./commands/emergency.ts')).emergencyOpen(c, flags)),
  'emergency list': command({}, async ({ c }) => (await import('./commands/emergency.ts')).emergencyList(c)),
  audit: command({ patient: text, record: text }, async ({ flags, c }) => (await import('./commands/audit.ts')).audit(c, flags)),
}

/**
 * Runs the CLI with `argv` (without node and script).
 * @throws CliError USAGE (exit 2) for an unknown command or bad flags; whatever the command throws.
 */
export async function main(argv: string[]): Promise<void> {
  const [first, second] = argv
  const name = Object.hasOwn(commands, `${first} ${second}`) ? `${first} ${second}` : first
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage + '\n')
    return
  }
  if (!Object.hasOwn(commands, name)) throw new CliError('USAGE', `Unknown command "${argv.slice(0, 2).join(' ')}".\n\n${usage}`, 2)
  return commands[name](argv.slice(name.split(' ').length))
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
