import { createInterface } from 'node:readline'

/** Output helpers: one JSON document with --json, plain lines otherwise. */
export interface Out {
  json: boolean
  result(value: unknown, human: () => string): void
  info(text: string): void
}

export function createOut(json: boolean): Out {
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n')
    },
    info(text) {
      process.stderr.write(text + '\n')
    },
  }
}

/**
 * Reads a secret: the first line of standard input when it is piped, or a prompt with echo
 * off on a terminal.
 */
export async function readSecret(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  const rlAny = rl as unknown as { _writeToOutput: (s: string) => void }
  let prompted = false
  rlAny._writeToOutput = (s: string) => {
    if (!prompted) { process.stderr.write(s); prompted = true }
  }
  const answer = await new Promise<string>((resolve) => rl.question(prompt, resolve))
  rl.close()
  process.stderr.write('\n')
  return answer
}

/** A one-line progress bar on stderr when it is a terminal; silent otherwise. */
export function progressBar(total: number, label: string): { update(done: number): void; end(): void } {
  const tty = process.stderr.isTTY && total > 0
  let last = -1
  return {
    update(done) {
      if (!tty) return
      const pct = Math.min(100, Math.floor((done / total) * 100))
      if (pct === last) return
      last = pct
      const width = 30
      const fill = Math.round((pct / 100) * width)
      process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${pct}% ${(done / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB`)
    },
    end() {
      if (tty) process.stderr.write('\n')
    },
  }
}
