import { CliError } from './client.ts'

/** `--records ID,ID`: the ids, blanks dropped; undefined when the flag is absent. */
export function idList(v: string | undefined): string[] | undefined {
  return v ? v.split(',').map((x) => x.trim()).filter(Boolean) : undefined
}

/**
 * `--days N` as a number; undefined when the flag is absent.
 * @throws CliError USAGE (exit 2) when it is not a positive number.
 */
export function positiveDays(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new CliError('USAGE', '--days takes a positive number', 2)
  return n
}
