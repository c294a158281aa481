import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger verify RECORD_ID… | --all`: checks records against their ledger anchors; the exit
 * code is 1 when any is damaged (an erased record is reported as erased, not as damaged).
 * @throws CliError USAGE without ids or --all; the node's code when it refuses.
 */
export async function verify(c: Common, ids: string[], f: { all?: boolean }): Promise<void> {
  if (!f.all && ids.length === 0) throw new CliError('USAGE', 'verify needs RECORD_ID… or --all', 2)
  const r = await signedIn(c).client.json<{ checked: number; intact: number; erased?: number; mismatches: { recordId: string; problem: string; detail?: string }[]; results: { recordId: string; erased?: boolean }[] }>('POST', '/verify', f.all ? { all: true } : { recordIds: ids })
  c.out.result(r, () => [
    ...r.mismatches.map((m) => `MISMATCH ${m.recordId}: ${m.problem}${m.detail ? ` (${m.detail})` : ''}`),
    ...r.results.filter((x) => x.erased).map((x) => `ERASED ${x.recordId}: erased at its patient's request (tombstone on chain)`),
    `${r.intact} of ${r.checked} record(s) intact${r.erased ? `, ${r.erased} erased` : ''}.`,
  ].join('\n'))
  if (r.mismatches.length > 0) process.exitCode = 1
}
