/** Reads and discards what is left of a request body; false when over `maxBytes` or `ms`. */
export function drain(stream: NodeJS.ReadableStream & { destroyed?: boolean; readableEnded?: boolean }, maxBytes: number, ms: number): Promise<boolean> {
  if (stream.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    let seen = 0
    const done = (ok: boolean) => {
      clearTimeout(timer)
      stream.removeListener('data', onData)
      stream.removeListener('end', onEnd)
      stream.removeListener('error', onEnd)
      if (!ok) stream.pause()
      resolve(ok)
    }
    const onData = (chunk: Buffer) => { seen += chunk.length; if (seen > maxBytes) done(false) }
    const onEnd = () => done(Boolean(stream.readableEnded))
    const timer = setTimeout(() => done(false), ms)
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('error', onEnd)
    stream.resume()
  })
}
