import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** A failure the CLI reports on stderr with a non-zero exit. */
export class CliError extends Error {
  override name = 'CliError'
  constructor(readonly code: string, message: string, readonly exitCode = 1) {
    super(message)
  }
}

interface SavedSession { token: string; expiresAt: string; role: string; accountId: string }
interface SessionFile { [apiUrl: string]: { last?: string; sessions: Record<string, SavedSession> } }

/** Where client sessions are kept: `~/.medledger/sessions.json`, readable by the user only. */
export function sessionFilePath(): string {
  return join(homedir(), '.medledger', 'sessions.json')
}

function readSessions(): SessionFile {
  const path = sessionFilePath()
  if (!existsSync(path)) return {}
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SessionFile
  } catch {
    return {}
  }
}

function writeSessions(data: SessionFile): void {
  const path = sessionFilePath()
  mkdirSync(join(homedir(), '.medledger'), { recursive: true, mode: 0o700 })
  writeFileSync(`${path}.tmp`, JSON.stringify(data, null, 2), { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
  chmodSync(path, 0o600)
}

/** Keeps a session for this API URL and e-mail, and makes it the default one. */
export function saveSession(api: string, email: string, s: SavedSession): void {
  const data = readSessions()
  const entry = (data[api] ??= { sessions: {} })
  entry.sessions[email.toLowerCase()] = s
  entry.last = email.toLowerCase()
  writeSessions(data)
}

/** Forgets a saved session. */
export function dropSession(api: string, email: string): void {
  const data = readSessions()
  if (data[api]) {
    delete data[api].sessions[email.toLowerCase()]
    if (data[api].last === email.toLowerCase()) delete data[api].last
    writeSessions(data)
  }
}

/** The saved session for `--as E`, or the last one signed in on this API. */
export function pickSession(api: string, as?: string): { email: string; token: string } | undefined {
  const entry = readSessions()[api]
  const email = (as ?? entry?.last)?.toLowerCase()
  const s = email ? entry?.sessions[email] : undefined
  return s && email ? { email, token: s.token } : undefined
}

export interface ApiClient {
  api: string
  token?: string
  request(method: string, path: string, opts?: { json?: unknown; headers?: Record<string, string>; body?: BodyInit; duplex?: 'half' }): Promise<Response>
  json<T>(method: string, path: string, json?: unknown): Promise<T>
}

function unreachable(base: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string } }).cause
  const code = (err as { code?: string }).code ?? cause?.code ?? (err as Error).message
  return new CliError('NODE_UNREACHABLE', `Cannot reach the node at ${base} (${code}). Is it running? Set --api or MEDLEDGER_API.`)
}

function answerError(status: number, statusText: string, body: string): CliError {
  let code = `HTTP_${status}`
  let message = statusText
  try {
    const b = JSON.parse(body) as { code?: string; message?: string; supersededBy?: string }
    code = b.code ?? code
    message = b.message ?? message
    // A re-keyed record's old id: the answer names the new one.
    if (typeof b.supersededBy === 'string') message = `${message} (supersededBy ${b.supersededBy})`
  } catch { /* not a JSON error body */ }
  return new CliError(code, message)
}

/**
 * One JSON call over node:http(s). Not fetch: loading fetch's HTTP stack (undici) and compiling
 * its WebAssembly parser costs a short CLI command more time than the command itself.
 */
async function sendJson(base: string, token: string | undefined, method: string, path: string, json: unknown): Promise<{ status: number; statusText: string; body: string }> {
  const body = json === undefined ? undefined : JSON.stringify(json)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(body))
  }
  let url: URL
  let send: (url: URL, options: RequestOptions, callback: (res: IncomingMessage) => void) => ReturnType<typeof httpRequest>
  try {
    url = new URL(`${base}/api/v1${path}`)
    if (url.protocol === 'https:') send = (await import('node:https')).request
    else if (url.protocol === 'http:') send = httpRequest
    else throw new Error(`unsupported protocol ${url.protocol}`)
  } catch (err) {
    throw unreachable(base, err)
  }
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err) => reject(unreachable(base, err)))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', (err) => reject(unreachable(base, err)))
    req.end(body)
  })
}

/** A thin client of the node's HTTP API that turns `{ code, message }` answers into CliErrors. */
export function createClient(api: string, token?: string): ApiClient {
  const base = api.replace(/\/+$/, '')
  const request: ApiClient['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (token) headers.authorization = `Bearer ${token}`
    let body = opts.body
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.json)
    }
    let res: Response
    try {
      res = await fetch(`${base}/api/v1${path}`, { method, headers, body, ...(opts.duplex ? { duplex: opts.duplex } : {}) } as RequestInit)
    } catch (err) {
      throw unreachable(base, err)
    }
    if (!res.ok) throw answerError(res.status, res.statusText, await res.text().catch(() => ''))
    return res
  }
  return {
    api: base,
    token,
    request,
    async json<T>(method: string, path: string, json?: unknown): Promise<T> {
      const res = await sendJson(base, token, method, path, json)
      if (res.status < 200 || res.status > 299) throw answerError(res.status, res.statusText, res.body)
      return res.status === 204 ? (undefined as T) : (JSON.parse(res.body) as T)
    },
  }
}
