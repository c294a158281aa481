import { CliError } from '../client.ts'
import { signedIn, type Common } from '../session.ts'

/**
 * `medledger verify RECORD_ID… | --all`: checks records against their ledger anchors; the exit
 * code is 1 when any is not intact.
 * @throws CliError USAGE without ids or --all; the node's code when it refuses.
 */
export async function verify(c: Common, ids: string[], f: { all?: boolean }): Promise<void> {
  if (!f.all && ids.length === 0) throw new CliError('USAGE', 'verify needs RECORD_ID… or --all', 2)
  const r = await signedIn(c).client.json<{ checked: number; intact: number; mismatches: { recordId: string; problem: string; detail?: string }[] }>('POST', '/verify', f.all ? { all: true } : { recordIds: ids })
  c.out.result(r, () => [
    ...r.mismatches.map((m) => `MISMATCH ${m.recordId}: ${m.problem}${m.detail ? ` (${m.detail})` : ''}`),
    `${r.intact} of ${r.checked} record(s) intact.`,
  ].join('\n'))
  if (r.mismatches.length > 0) process.exitCode = 1
}
