import { AppError } from '../../errors.ts'

/** A date search value: its prefix and the interval [from, to) its (partial) date covers, in ms. */
interface DateCriterion { prefix: 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le'; from: number; to: number }

const datePattern = /^(eq|ne|gt|lt|ge|le)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/

/**
 * The criteria of a FHIR date search (`date=ge2026-01-01&date=le2026-12-31`): each value a
 * prefix (eq, ne, gt, lt, ge, le; eq when none) and a date of year, month, day or time precision.
 * @throws AppError VALIDATION_FAILED for a value of another form
 */
export function dateCriteria(param: string | readonly string[] | undefined): DateCriterion[] {
  if (param === undefined) return []
  return (Array.isArray(param) ? param : [param as string]).map((raw) => {
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
  })
}

/** True when the instant `at` (ISO 8601) meets every criterion. */
export function matchesDate(at: string | undefined, criteria: readonly DateCriterion[]): boolean {
  if (criteria.length === 0) return true
  const t = at === undefined ? NaN : Date.parse(at)
  if (!Number.isFinite(t)) return false
  return criteria.every(({ prefix, from, to }) => {
    switch (prefix) {
      case 'eq': return t >= from && t < to
      case 'ne': return t < from || t >= to
      case 'gt': return t >= to
      case 'lt': return t < from
      case 'ge': return t >= from
      case 'le': return t < to
    }
  })
}
