import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppError } from '../errors.ts'

/**
 * Takes `<home>/node.lock` for this process and returns its release. One process per home: a
 * node, or a backup export/import, which must not run beside a node on the same blocks.
 * A lock left by a process that is gone is taken over.
 * @throws AppError BAD_REQUEST when a live process holds the lock.
 */
export function lockHome(home: string): () => void {
  const path = join(home, 'node.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeFileSync(fd, String(process.pid))
      closeSync(fd)
      return () => { try { unlinkSync(path) } catch { /* already gone */ } }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number(readFileSync(path, 'utf8'))
      if (pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AppError('BAD_REQUEST', { message: `Another MedLedger process (pid ${pid}: a node, or a backup command) is using this home directory.` })
      }
      unlinkSync(path) // left by a node that was killed
    }
  }
  throw new AppError('INTERNAL', { details: 'could not take the home lock' })
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}
