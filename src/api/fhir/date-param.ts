import { AppError } from '../../errors.ts'

const datePattern = /^(eq|ne|gt|lt|ge|le)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/

/** One date search value: its prefix and the interval [from, to) of its precision, in ms. */
export interface DateCriterion { prefix: 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le'; from: number; to: number }

/**
 * A FHIR date search value (`ge2026-01-01`, `le2026-12`, `2026-03-04T10:00:00Z`).
 * @throws AppError VALIDATION_FAILED for any other form
 */
export function parseDateParam(raw: string): DateCriterion {
  const m = datePattern.exec(raw.trim())
  if (!m) throw new AppError('VALIDATION_FAILED', { message: 'A date search value is an optional prefix (eq, ne, gt, lt, ge, le) and a date: YYYY, YYYY-MM, YYYY-MM-DD or a date-time.' })
  const [, prefix = 'eq', y, mo, d, h, mi, s, frac, zone] = m
  let from: number
  let to: number
  if (h !== undefined) {
    from = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${zone ?? 'Z'}`)
    to = from + (s === undefined ? 60_000 : frac === undefined ? 1000 : 1)
  } else {
    from = Date.UTC(Number(y), mo ? Number(mo) - 1 : 0, d ? Number(d) : 1)
    to = d ? from + 86_400_000 : mo ? Date.UTC(Number(y), Number(mo), 1) : Date.UTC(Number(y) + 1, 0, 1)
  }
  if (!Number.isFinite(from)) throw new AppError('VALIDATION_FAILED', { message: 'A date search value names no real date.' })
  return { prefix: prefix as DateCriterion['prefix'], from, to }
}

/** True when the instant `t` (ms) satisfies the criterion. */
export function matchesDate(c: DateCriterion, t: number): boolean {
  switch (c.prefix) {
    case 'eq': return t >= c.from && t < c.to
    case 'ne': return t < c.from || t >= c.to
    case 'gt': return t >= c.to
    case 'ge': return t >= c.from
    case 'lt': return t < c.from
    case 'le': return t < c.to
  }
}
