/** A failed API call: the status and the `{ code, message }` the node answered. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(readonly method: string, readonly path: string, readonly status: number, readonly body: string) {
    super(`${method} ${path} → ${status}: ${body.slice(0, 300)}`)
  }
}

export interface ApiClient {
  readonly url: string
  /** A JSON request under /api/v1; resolves with the parsed answer. @throws ApiError unless 2xx. */
  json<T>(method: string, path: string, opts?: { token?: string; body?: unknown }): Promise<T>
  /** A raw request under /api/v1 (the caller reads the body). @throws ApiError unless 2xx. */
  raw(method: string, path: string, init: RequestInit & { token?: string }): Promise<Response>
}

/** A client for the node listening at `url`. */
export function createApiClient(url: string): ApiClient {
  const base = `${url.replace(/\/+$/, '')}/api/v1`
  const raw: ApiClient['raw'] = async (method, path, { token, headers, ...init }) => {
    const h = new Headers(headers)
    if (token !== undefined) h.set('authorization', `Bearer ${token}`)
    const res = await fetch(`${base}${path}`, { ...init, method, headers: h })
    if (!res.ok) throw new ApiError(method, path, res.status, await res.text())
    return res
  }
  return {
    url,
    raw,
    async json<T>(method: string, path: string, { token, body }: { token?: string; body?: unknown } = {}) {
      const res = await raw(method, path, {
        token,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return await res.json() as T
    },
  }
}
