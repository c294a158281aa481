/** Helpers that read FHIR search parameter values (token, reference, string, id lists). */

/** The values of a parameter given once or repeated, each split at FHIR's commas (OR). */
export function valuesOf(param: string | readonly string[] | undefined): string[] {
  if (param === undefined) return []
  return (Array.isArray(param) ? param : [param as string]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')
}

/** True when a token search value (`system|value`, `|value` or `value`) matches one of `identifiers`. */
export function matchesToken(search: string, identifiers: readonly { system: string; value: string }[]): boolean {
  const bar = search.lastIndexOf('|')
  const system = bar < 0 ? undefined : search.slice(0, bar)
  const value = (bar < 0 ? search : search.slice(bar + 1)).toLowerCase()
  return identifiers.some((i) => (system === undefined || system === '' || system === i.system) && i.value.toLowerCase() === value)
}

/** The id of a reference search value (`Type/id`, a full URL ending in it, or the bare id), when it is of `type`. */
export function referenceId(search: string, type: string): string | undefined {
  const m = /^(?:.*\/)?([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(search)
  if (m) return m[1] === type ? m[2] : undefined
  return /^[A-Za-z0-9\-.]{1,64}$/.test(search) ? search : undefined
}

/** FHIR's default string search: the name, or one of its words, starts with the value (case-insensitive). */
export function matchesName(search: string, name: string): boolean {
  const s = search.toLowerCase()
  const n = name.toLowerCase()
  return n.startsWith(s) || n.split(/\s+/).some((w) => w.startsWith(s))
}
