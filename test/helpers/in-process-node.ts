import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../src/config.ts'
import { startNode, type RunningNode } from '../../src/node/start-node.ts'
import { buildApp } from '../../src/api/build-app.ts'
import { Api, cleanup, tempDir, testEnv } from './node-process.ts'
import { createTestDatabase } from './postgres.ts'

export interface InProcessNode {
  /** The node's parts (home, database, embedded anvil, Helia), started in this process. */
  node: RunningNode
  /** Its API, built by buildApp as `medledger start` builds it. */
  app: FastifyInstance
  /** The address the API listens on (loopback, a free port): SIWE messages name it. */
  url: string
  home: string
  /** The node's database: its SQLite file, or a fresh Postgres database when `MEDLEDGER_TEST_DB=postgres`. */
  dbUrl: string
  /** Closes the API, stops the node and removes its home. */
  stop(): Promise<void>
}

/**
 * Starts a whole node in this process, as `medledger start --port 0` would in its own: a temp
 * home with its SQLite database (or, with `MEDLEDGER_TEST_DB=postgres`, a fresh Postgres
 * database of the test server), the embedded anvil and Helia, and its API built by buildApp.
 * The API also listens on a free loopback port, so what depends on the address the node
 * listens on (the SIWE domain) is as in a node process; tests call it with {@link InjectApi}.
 * @throws Error when a part of the node cannot start (what was started is stopped again).
 */
export async function startInProcessNode({ env = {} }: { env?: Record<string, string> } = {}): Promise<InProcessNode> {
  const home = tempDir('ml-inproc-')
  const dbUrl = process.env.MEDLEDGER_TEST_DB === 'postgres' ? await createTestDatabase() : ''
  const nodeEnv = { ...process.env, ...testEnv, ...env }
  let node: RunningNode | undefined
  let app: FastifyInstance | undefined
  const stop = async () => {
    await app?.close()
    await node?.stop()
    cleanup(home)
  }
  try {
    node = await startNode({ config: loadConfig({ flags: { home, port: 0, dbUrl }, env: nodeEnv }), env: nodeEnv })
    app = await buildApp({ services: node.services })
    const url = (await app.listen({ port: 0, host: node.services.config.host })).replace('://[::1]', '://localhost')
    return { node, app, url, home, dbUrl: dbUrl || `${home}/medledger.db`, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * The test client {@link Api} over `app.inject()`: the same calls (`call`, `json`, `login`,
 * `upload`, `download`) and the same answers as a standard `Response`, without a socket.
 */
export class InjectApi extends Api {
  constructor(readonly app: FastifyInstance, url = 'http://127.0.0.1', token?: string) {
    super(url, token)
  }

  override async call(method: string, path: string, opts: { json?: unknown; body?: BodyInit | null; headers?: Record<string, string>; token?: string | null } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers }
    const token = opts.token === null ? undefined : opts.token ?? this.token
    if (token) headers.authorization = `Bearer ${token}`
    let payload: string | Buffer | Readable | undefined
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(opts.json)
    } else if (typeof opts.body === 'string') {
      payload = opts.body
    } else if (opts.body instanceof ReadableStream) {
      payload = Readable.fromWeb(opts.body as import('node:stream/web').ReadableStream)
      // As fetch sends a stream: chunked, with no length announced.
      headers['transfer-encoding'] = 'chunked'
    } else if (opts.body instanceof Uint8Array) {
      payload = Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength)
    } else if (opts.body != null) {
      throw new Error('InjectApi: body must be a string, bytes or a ReadableStream')
    }
    const res = await this.app.inject({ method: method as 'GET', url: `/api/v1${path}`, headers, ...(payload !== undefined ? { payload } : {}) })
    const out = new Headers()
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue
      for (const v of Array.isArray(value) ? value : [value]) out.append(name, String(v))
    }
    // A 1xx, 204, 205 or 304 Response may not have a body, not even an empty one.
    const body = res.rawPayload.length === 0 || [204, 205, 304].includes(res.statusCode) ? null : new Uint8Array(res.rawPayload)
    return new Response(body, { status: res.statusCode, statusText: res.statusMessage, headers: out })
  }
}
