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

/**
 * A one-line progress bar (`cli-progress`) on `stream` (stderr) when it is a terminal; silent
 * otherwise. `cli-progress` is imported only when a bar is shown, so other commands and piped
 * runs never load it.
 */
export async function progressBar(total: number, label: string, stream: NodeJS.WriteStream = process.stderr): Promise<{ update(done: number): void; end(): void }> {
  if (!stream.isTTY || total <= 0) return { update() {}, end() {} }
  const { SingleBar } = await import('cli-progress')
  const mib = (n: number) => (n / 1048576).toFixed(1)
  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% {doneMiB}/${mib(total)} MiB`,
    barsize: 30,
    barCompleteChar: '#',
    barIncompleteChar: '-',
    hideCursor: false,
    clearOnComplete: false,
    gracefulExit: false, // Ctrl-C keeps its default (exit), no handler of ours
  })
  bar.start(total, 0, { doneMiB: mib(0) })
  return {
    update(done) {
      bar.update(Math.min(done, total), { doneMiB: mib(done) })
    },
    end() {
      bar.stop()
    },
  }
}
