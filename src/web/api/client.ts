// The one way the portal talks to the node: the public HTTP API under /api/v1, with the
// session's bearer token in a header. The token lives in sessionStorage (this tab only) and
// never in a URL.
import type { Session } from './types.ts'

export const apiBase = '/api/v1'
const storageKey = 'medledger.session'

/** A refusal from the API, with its stable code and plain-words message. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message)
  }
}

/** The session of this tab, if any. */
export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(storageKey)
    return raw ? JSON.parse(raw) as Session : null
  } catch {
    return null
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(storageKey, JSON.stringify(session))
  else sessionStorage.removeItem(storageKey)
}

/** Fired when the node says the session is over, so the app can return to sign-in. */
export const sessionEndedEvent = 'medledger:session-ended'

export interface CallOptions {
  method?: string
  json?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Send no bearer token even when signed in (share-token reads, sign-in). */
  anonymous?: boolean
}

/** Turns a failed answer into an ApiError with the API's own message. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: { code?: string; message?: string } | undefined
  try {
    body = await res.json() as { code?: string; message?: string }
  } catch {
    // not JSON: a proxy or a crash; say what we know
  }
  const error = new ApiError(body?.code ?? `HTTP_${res.status}`, body?.message ?? `The node answered ${res.status} ${res.statusText || ''}`.trim() + '.', res.status)
  noticeSessionEnd(error)
  return error
}

function noticeSessionEnd(error: ApiError): void {
  if (error.code === 'SESSION_EXPIRED' || error.code === 'UNAUTHENTICATED') {
    if (loadSession()) window.dispatchEvent(new CustomEvent(sessionEndedEvent, { detail: error.message }))
  }
}

/** A request to the API; the raw Response when it succeeded, an ApiError otherwise. */
export async function call(path: string, { method = 'GET', json, headers = {}, signal, anonymous = false }: CallOptions = {}): Promise<Response> {
  const h: Record<string, string> = { accept: 'application/json', ...headers }
  const session = anonymous ? null : loadSession()
  if (session) h.authorization = `Bearer ${session.token}`
  let body: string | undefined
  if (json !== undefined) {
    h['content-type'] = 'application/json'
    body = JSON.stringify(json)
  }
  let res: Response
  try {
    res = await fetch(apiBase + path, { method, headers: h, body, signal, credentials: 'omit', cache: 'no-store' })
  } catch (err) {
    if (signal?.aborted) throw err
    throw new ApiError('NETWORK', 'The node cannot be reached. Check your connection and try again.', 0)
  }
  if (!res.ok) throw await toApiError(res)
  return res
}

/** A JSON request; answers the parsed body (undefined for 204). */
export async function api<T>(path: string, options: CallOptions = {}): Promise<T> {
  const res = await call(path, options)
  if (res.status === 204) return undefined as T
  return await res.json() as T
}

/** Query string from defined values; never used for e-mails, passwords or tokens. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** A plain-words message for anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof DOMException && err.name === 'AbortError') return 'Cancelled.'
  if (err instanceof Error) return err.message
  return String(err)
}
