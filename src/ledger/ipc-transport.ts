import { connect, type Socket } from 'node:net'
import { createTransport, RpcRequestError, TimeoutError, type EIP1193RequestFn, type Transport } from 'viem'

export interface IpcTransportOptions {
  /** Connections kept open to the socket; each call goes to the one with the fewest in flight (default 4). */
  connections?: number
  /** How long one call may wait for its answer (default 30 s). */
  timeoutMs?: number
  /** Times viem retries a call that failed to reach the chain (default 2, as the HTTP transport). */
  retryCount?: number
}

interface Pending {
  resolve: (answer: Answer) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/** One open connection: calls written one per line, answered one per line (anvil's framing), matched by id. */
interface Line {
  socket: Socket
  ready: Promise<void>
  pending: Map<number, Pending>
}

/**
 * A viem transport to the embedded chain's IPC socket over a few connections kept open, for the
 * node's own client: a call is one line written and one line read, instead of an HTTP request
 * to the node's own chain proxy and a new socket from the proxy to anvil per call. Only the node
 * process uses it (the socket is in its private home); everyone else goes through the proxy.
 * A connection that fails or closes fails its calls (viem retries them) and is opened again on
 * the next call.
 */
export function ipcTransport(path: string, { connections = 4, timeoutMs = 30_000, retryCount = 2 }: IpcTransportOptions = {}): Transport {
  const lines: (Line | undefined)[] = Array.from({ length: connections }, () => undefined)
  let nextId = 1

  const pick = (): Line => {
    let best = 0
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]
      if (line === undefined) { lines[i] = openLine(path, (gone) => { if (lines[i] === gone) lines[i] = undefined }); return lines[i]! }
      if (line.pending.size < lines[best]!.pending.size) best = i
    }
    return lines[best]!
  }

  return () => createTransport({
    key: 'ipc',
    name: 'IPC JSON-RPC',
    type: 'ipc',
    retryCount,
    timeout: timeoutMs,
    request: (async ({ method, params }: { method: string; params?: unknown }) => {
      const line = pick()
      await line.ready
      const id = nextId++
      const body = { jsonrpc: '2.0', id, method, params }
      const answer = await new Promise<Answer>((resolve, reject) => {
        const timer = setTimeout(() => {
          line.pending.delete(id)
          reject(new TimeoutError({ body, url: 'ipc' }))
        }, timeoutMs)
        line.pending.set(id, { resolve, reject, timer })
        line.socket.write(`${JSON.stringify(body)}\n`)
      })
      if (answer.error) throw new RpcRequestError({ body, error: answer.error, url: 'ipc' })
      return answer.result
    }) as EIP1193RequestFn,
  })
}

type Answer = { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } }

/** Opens one connection; `gone` is told when it fails or closes (its calls are failed then). */
function openLine(path: string, gone: (line: Line) => void): Line {
  const socket = connect(path)
  const pending = new Map<number, Pending>()
  const line: Line = {
    socket,
    pending,
    ready: new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    }),
  }
  line.ready.catch(() => undefined)
  let buffered = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buffered += chunk
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const text = buffered.slice(0, end)
      buffered = buffered.slice(end + 1)
      if (text.trim() === '') continue
      const answer = JSON.parse(text) as Answer
      const call = typeof answer.id === 'number' ? pending.get(answer.id) : undefined
      if (!call) continue
      pending.delete(answer.id as number)
      clearTimeout(call.timer)
      call.resolve(answer)
    }
  })
  const fail = (err: Error) => {
    gone(line)
    for (const call of pending.values()) {
      clearTimeout(call.timer)
      call.reject(err)
    }
    pending.clear()
    socket.destroy()
  }
  socket.on('error', fail)
  socket.on('close', () => fail(new Error('the chain closed its IPC connection')))
  // Its open socket does not keep the process alive: the calls waiting on it do (their timers).
  socket.unref()
  return line
}
