import type { Address, Hex } from 'viem'
import { isAppError } from '../errors.ts'
import { applyExportRequested } from './export-part.ts'
import type { Services } from '../services.ts'

/** A part that keeps failing is retried with back-off from 1 s to 10 min, 14 times (about 1.5 h). */
const MAX_ATTEMPTS = 14

/**
 * `ExportRequested`: the export is queued here (`study_export_jobs`) for this node's hospitals to
 * answer, off the follower's path (de-identifying many patients takes a while; the follower
 * goes on meanwhile). Idempotent: an export queued already is left as it is.
 */
export async function queueExportPart(s: Pick<Services, 'db'>, e: { exportId: Hex; studyId: Hex; researcher: Address }): Promise<void> {
  const now = Date.now()
  await s.db.run(`INSERT INTO study_export_jobs (export_id, study_id, researcher, attempts, next_at, reason, created_at, done_at) VALUES (?, ?, ?, 0, ?, NULL, ?, NULL)
    ON CONFLICT (export_id) DO NOTHING`, e.exportId.toLowerCase(), e.studyId.toLowerCase(), e.researcher.toLowerCase(), now, now)
}

export interface ExportWorker {
  stop(): Promise<void>
}

/**
 * Answers the queued exports one at a time (`applyExportRequested`: this node's parts, each
 * submitted on chain once), polling every `intervalMs`; a failure (the study not mirrored yet,
 * the researcher's key not served, the chain away) is retried with back-off and logged by its
 * error code and the export's id only.
 */
export function startExportWorker(s: Services, { intervalMs = 500 }: { intervalMs?: number } = {}): ExportWorker {
  const controller = new AbortController()
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  const schedule = (): void => {
    if (stopped) return
    timer = setTimeout(() => {
      running = runDue(s, controller.signal, () => stopped)
        .catch((err: unknown) => s.log('warn', `study export parts: ${(err as Error).message.split('\n')[0]}`))
        .finally(schedule)
    }, intervalMs)
  }
  schedule()
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      controller.abort()
      await running.catch(() => {})
    },
  }
}

async function runDue(s: Services, signal: AbortSignal, stopped: () => boolean): Promise<void> {
  const due = await s.db.all<{ export_id: Hex; study_id: Hex; researcher: Address; attempts: number }>(
    'SELECT export_id, study_id, researcher, attempts FROM study_export_jobs WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY created_at LIMIT 5', Date.now())
  for (const job of due) {
    if (stopped()) return
    try {
      const parts = await applyExportRequested(s, { exportId: job.export_id, studyId: job.study_id, researcher: job.researcher, signal })
      await s.db.run('UPDATE study_export_jobs SET next_at = NULL, reason = NULL, done_at = ? WHERE export_id = ?', Date.now(), job.export_id)
      if (parts > 0) s.log('info', `study export parts: export ${job.export_id}: ${parts} part(s) submitted`)
    } catch (err) {
      if (stopped()) return
      const attempts = Number(job.attempts) + 1
      const reason = (isAppError(err) ? `${err.code}${err.details ? `: ${String(err.details)}` : ''}` : (err as Error)?.name ?? 'Error').split('\n')[0]!.slice(0, 200)
      await s.db.run('UPDATE study_export_jobs SET attempts = ?, reason = ?, next_at = ? WHERE export_id = ?',
        attempts, reason, attempts >= MAX_ATTEMPTS ? null : Date.now() + Math.min(600_000, 1_000 * 2 ** (attempts - 1)), job.export_id)
      s.log('warn', `study export parts: export ${job.export_id}: ${reason} (attempt ${attempts})`)
    }
  }
}
