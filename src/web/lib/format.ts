// Display helpers: sizes, dates, durations, long hexadecimal values.

export function formatBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '—'
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d)
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : dateOnly.format(d)
}

/** "in 3 days", "2 hours ago". */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return ''
  const ms = new Date(iso).getTime() - now
  const abs = Math.abs(ms)
  const steps: [number, Intl.RelativeTimeFormatUnit][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute']]
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
  for (const [size, unit] of steps) if (abs >= size) return rtf.format(Math.round(ms / size), unit)
  return rtf.format(Math.round(ms / 1000), 'second')
}

export function formatDays(seconds: number): string {
  const days = seconds / 86_400
  if (days >= 1) return `${Number.isInteger(days) ? days : days.toFixed(1)} day${days === 1 ? '' : 's'}`
  const hours = seconds / 3600
  return `${Number.isInteger(hours) ? hours : hours.toFixed(1)} hours`
}

/** 0x1234…abcd: enough to recognise, the full value in a title. */
export function shortHex(hex: string | null | undefined, keep = 6): string {
  if (!hex) return '—'
  return hex.length <= 2 * keep + 3 ? hex : `${hex.slice(0, keep + 2)}…${hex.slice(-keep)}`
}

export const suiteNames: Record<string, string> = {
  'aes-256-gcm': 'AES-256-GCM',
  'aes-192-gcm': 'AES-192-GCM',
  'aes-128-gcm': 'AES-128-GCM',
  'xchacha20-poly1305': 'XChaCha20-Poly1305',
}

export const roleNames: Record<string, string> = { admin: 'Consortium admin', staff: 'Hospital staff', doctor: 'Doctor', patient: 'Patient', hospital: 'Hospital' }
