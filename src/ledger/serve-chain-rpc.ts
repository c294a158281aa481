import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { AppError } from '../errors.ts'

/**
 * The JSON-RPC methods anyone may call on the node's chain RPC: standard reads and signed
 * transactions. Everything else — anvil's `anvil_*`, `evm_*`, `hardhat_*`, unsigned transactions
 * (`eth_sendTransaction`), signing with keys the chain holds (`eth_sign`, `personal_*`) and the
 * list of those keys (`eth_accounts`) — is refused unless the node was started with
 * `--chain-dev-methods`. An allow-list: a method anvil adds later stays closed.
 */
export const publicChainMethods: ReadonlySet<string> = new Set([
  'web3_clientVersion', 'web3_sha3', 'net_version', 'net_listening', 'net_peerCount',
  'eth_chainId', 'eth_protocolVersion', 'eth_syncing', 'eth_blockNumber', 'eth_gasPrice',
  'eth_maxPriorityFeePerGas', 'eth_blobBaseFee', 'eth_feeHistory',
  'eth_getBalance', 'eth_getCode', 'eth_getStorageAt', 'eth_getTransactionCount', 'eth_getProof',
  'eth_getBlockByNumber', 'eth_getBlockByHash', 'eth_getBlockReceipts',
  'eth_getBlockTransactionCountByNumber', 'eth_getBlockTransactionCountByHash',
  'eth_getUncleCountByBlockNumber', 'eth_getUncleCountByBlockHash',
  'eth_getUncleByBlockNumberAndIndex', 'eth_getUncleByBlockHashAndIndex',
  'eth_getTransactionByHash', 'eth_getTransactionByBlockNumberAndIndex', 'eth_getTransactionByBlockHashAndIndex',
  'eth_getTransactionReceipt', 'eth_getLogs',
  'eth_newFilter', 'eth_newBlockFilter', 'eth_getFilterChanges', 'eth_getFilterLogs', 'eth_uninstallFilter',
  'eth_call', 'eth_estimateGas', 'eth_createAccessList', 'eth_simulateV1', 'eth_fillTransaction',
  'eth_sendRawTransaction',
])

/** Where the proxy sends allowed calls: anvil's IPC socket, or its HTTP URL. */
export type ChainUpstream = { ipcPath: string } | { url: string }

export interface ServeChainRpcParams {
  upstream: ChainUpstream
  host?: string
  /** 0 lets the system pick a free port. */
  port?: number
  /** Serve every method, dev methods included (`--chain-dev-methods`). */
  devMethods?: boolean
  /** Largest request body accepted, in bytes (a contract deployment is a few dozen KiB). */
  maxBodyBytes?: number
}

export interface ChainRpcServer {
  /** The URL other processes use: `chainRpc` in the node's status. */
  url: string
  port: number
  close(): Promise<void>
}

type JsonRpcId = string | number | null
interface JsonRpcError { jsonrpc: '2.0'; id: JsonRpcId; error: { code: number; message: string } }

/** JSON-RPC's "method not found": a refused method looks to a client like one the chain lacks. */
export const METHOD_NOT_ALLOWED = -32601

const errorReply = (id: JsonRpcId, code: number, message: string): JsonRpcError => ({ jsonrpc: '2.0', id, error: { code, message } })

const idOf = (call: unknown): JsonRpcId => {
  const id = (call as { id?: unknown } | null)?.id
  return typeof id === 'string' || typeof id === 'number' ? id : null
}

/** The method name as it may appear in a message: a short identifier, nothing else echoed back. */
const shownMethod = (method: string) => (/^[A-Za-z0-9_]{1,64}$/.test(method) ? method : 'this method')

/** Why `call` may not be forwarded, or undefined when it may. */
function refusal(call: unknown, devMethods: boolean): JsonRpcError | undefined {
  if (typeof call !== 'object' || call === null || Array.isArray(call)) return errorReply(null, -32600, 'Invalid request: expected a JSON-RPC call object.')
  const method = (call as { method?: unknown }).method
  if (typeof method !== 'string') return errorReply(idOf(call), -32600, 'Invalid request: no method.')
  if (devMethods || publicChainMethods.has(method)) return undefined
  return errorReply(idOf(call), METHOD_NOT_ALLOWED,
    `Method not allowed: ${shownMethod(method)} is not served on this chain RPC; only standard reads and signed transactions (eth_sendRawTransaction) are. A test or demo node serves dev methods when started with --chain-dev-methods.`)
}

/** Sends one JSON-RPC body to anvil's IPC socket and returns its one-line answer. */
function callIpc(ipcPath: string, body: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(ipcPath)
    let answer = ''
    const timer = setTimeout(() => socket.destroy(new Error(`no answer from the chain within ${timeoutMs} ms`)), timeoutMs)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      answer += chunk
      const end = answer.indexOf('\n')
      if (end >= 0) {
        clearTimeout(timer)
        socket.end()
        resolve(answer.slice(0, end))
      }
    })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); reject(new Error('the chain closed the connection without answering')) })
    // Not end(): anvil drops a half-closed connection before answering a slow call.
    socket.write(body + '\n')
  })
}

async function forward(upstream: ChainUpstream, payload: unknown): Promise<unknown> {
  const body = JSON.stringify(payload)
  if ('ipcPath' in upstream) return JSON.parse(await callIpc(upstream.ipcPath, body, 60_000))
  const res = await fetch(upstream.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(60_000) })
  return JSON.parse(await res.text())
}

/**
 * Answers one JSON-RPC body: refused calls get their error here, the rest go to the chain. In a
 * batch each call is judged alone; the allowed ones go to the chain as one batch under ids of our
 * own (a client's ids may repeat), and the answers come back in the client's order and ids.
 */
async function answer(upstream: ChainUpstream, payload: unknown, devMethods: boolean): Promise<unknown> {
  if (!Array.isArray(payload)) {
    return refusal(payload, devMethods) ?? forward(upstream, payload)
  }
  if (payload.length === 0) return errorReply(null, -32600, 'Invalid request: empty batch.')
  const replies: unknown[] = payload.map((call) => refusal(call, devMethods))
  const allowed = payload.flatMap((call, i) => (replies[i] === undefined ? [{ ...(call as object), jsonrpc: '2.0', id: i }] : []))
  if (allowed.length > 0) {
    const answers = await forward(upstream, allowed)
    const byId = new Map<number, Record<string, unknown>>()
    if (Array.isArray(answers)) for (const a of answers) if (typeof a?.id === 'number') byId.set(a.id, a)
    for (const call of allowed) {
      const a = byId.get(call.id)
      replies[call.id] = a ? { ...a, id: idOf(payload[call.id]) } : errorReply(idOf(payload[call.id]), -32603, 'Internal error: the chain gave no answer to this call.')
    }
  }
  return replies
}

function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.resume()
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}

/**
 * Serves the embedded chain's JSON-RPC over HTTP in front of anvil, filtering each call: standard
 * reads and signed transactions pass, anvil's dev methods and unsigned transactions are refused
 * with JSON-RPC error -32601 unless `devMethods` is on. This is the only way to the chain from
 * outside the node: anvil itself listens on an IPC socket in the node's private home.
 * @throws AppError `LEDGER_UNAVAILABLE` when the address cannot be listened on.
 */
export async function serveChainRpc({ upstream, host = '127.0.0.1', port = 0, devMethods = false, maxBodyBytes = 16 * 1024 * 1024 }: ServeChainRpcParams): Promise<ChainRpcServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      send(res, 405, errorReply(null, -32600, 'Invalid request: JSON-RPC is sent with POST.'), { allow: 'POST' })
      return
    }
    void (async () => {
      const text = await readBody(req, maxBodyBytes)
      if (text === undefined) return send(res, 413, errorReply(null, -32600, `Invalid request: larger than ${maxBodyBytes} bytes.`))
      let payload: unknown
      try {
        payload = JSON.parse(text)
      } catch {
        return send(res, 200, errorReply(null, -32700, 'Parse error: the body is not JSON.'))
      }
      try {
        send(res, 200, await answer(upstream, payload, devMethods))
      } catch {
        send(res, 502, errorReply(idOf(payload), -32603, 'Internal error: the chain did not answer.'))
      }
    })().catch(() => {
      if (!res.headersSent) send(res, 500, errorReply(null, -32603, 'Internal error.'))
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 5_000
  const listening = await new Promise<number>((resolve, reject) => {
    server.once('error', (err) => reject(new AppError('LEDGER_UNAVAILABLE', { details: `cannot listen for chain RPC on ${host}:${port}`, cause: err })))
    server.listen(port, host, () => resolve((server.address() as { port: number }).port))
  })
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host
  let closing: Promise<void> | undefined
  return {
    url: `http://${urlHost}:${listening}`,
    port: listening,
    close: () => (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })),
  }
}
