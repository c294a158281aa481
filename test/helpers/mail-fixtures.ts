import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { openDatabase, type Db } from '../../src/db/open-database.ts'
import { loadConfig } from '../../src/config.ts'
import type { Config } from '../../src/config.ts'

/** What must never reach a message; a template has no field to take any of them. */
export const sentinels = {
  privateKey: '0x5e471ee15e471ee15e471ee15e471ee15e471ee15e471ee15e471ee15e471ee1',
  token: 'TOKEN-sentinel-Zx81Qm0pLw7vYt3RkGdH2sNc',
  password: 'PASSWORD-sentinel-hunter2',
  recordContent: 'CONTENT-sentinel-chest-xray-findings',
  fileName: 'FILENAME-sentinel-ct-scan.dcm',
  diagnosis: 'DIAGNOSIS-sentinel-pneumonia',
  purpose: 'PURPOSE-sentinel-second-opinion',
  reason: 'REASON-sentinel-unconscious-patient',
} as const

/**
 * A node's database and configuration without its chain or IPFS: what `notify` and the mail
 * worker use. Accounts are inserted as rows, since registering them on chain is not under test.
 * `dbUrl` is a running node's database (see `NodeProcess.dbUrl`); otherwise SQLite in `home`.
 */
export async function openMailDb({ home, dbUrl = join(home, 'medledger.db'), env = {} }: { home: string; dbUrl?: string; env?: Record<string, string> }): Promise<{ db: Db; config: Readonly<Config> }> {
  const config = loadConfig({ flags: { home }, env })
  return { db: await openDatabase({ url: dbUrl }), config }
}

export async function insertHospital(db: Db, name: string): Promise<string> {
  const id = `h-${randomBytes(6).toString('hex')}`
  await db.run(`INSERT INTO hospitals (id, name, address, key_scheme, emergency_public_key, sealed_secrets, state, created_at) VALUES (?, ?, ?, 'x25519-hpke', ?, '{}', 'active', ?)`, id, name, `0x${randomBytes(20).toString('hex')}`, Buffer.alloc(32), Date.now())
  return id
}

export async function insertAccount(db: Db, { role, name, email, hospitalId = null }: { role: 'admin' | 'staff' | 'doctor' | 'patient' | 'researcher'; name: string; email: string; hospitalId?: string | null }): Promise<string> {
  const id = `a-${randomBytes(6).toString('hex')}`
  await db.run(`INSERT INTO accounts (id, email, name, role, hospital_id, address, key_scheme, public_key, keystore, state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'x25519-hpke', ?, '{}', 'active', ?)`, id, email, name, role, hospitalId, `0x${randomBytes(20).toString('hex')}`, Buffer.alloc(32), Date.now())
  return id
}

export interface CapturedMail { from: string; to: string; subject: string; raw: string; user?: string }

export interface TestSmtpServer {
  port: number
  messages: CapturedMail[]
  connections: number
  close(): Promise<void>
}

/**
 * A real SMTP server on 127.0.0.1 that accepts one user and keeps what it receives. No
 * STARTTLS (its certificate would be self-signed), so AUTH runs on the plain connection.
 */
export async function startSmtpServer({ user, pass, port = 0 }: { user: string; pass: string; port?: number }): Promise<TestSmtpServer> {
  const messages: CapturedMail[] = []
  const state = { connections: 0 }
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onConnect(_session, cb) { state.connections += 1; cb() },
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === pass) cb(null, { user: auth.username })
      else cb(new Error('Invalid username or password'))
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const headers = parseHeaders(raw)
        messages.push({ from: headers.from ?? '', to: headers.to ?? '', subject: headers.subject ?? '', raw, user: session.user as string | undefined })
        cb()
      })
    },
  })
  server.listen(port, '127.0.0.1')
  await once(server.server, 'listening')
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    get connections() { return state.connections },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The message's headers, unfolded, by lower-case name. */
function parseHeaders(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ')
  const out: Record<string, string> = {}
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
  }
  return out
}

/** The plain-text body of a captured message (7bit or quoted-printable, as nodemailer writes it). */
export function bodyOf(raw: string): string {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/)
  const body = rest.join('\n\n')
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
    return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
  }
  return body
}

/** Polls `check` until it returns a value, instead of sleeping a guessed time. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, { timeoutMs = 10_000, everyMs = 10, what = 'condition' } = {}): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
