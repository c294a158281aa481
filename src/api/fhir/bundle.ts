import type { FastifyRequest } from 'fastify'
import type { FhirResource } from './resource-module.ts'

export const fhirPrefix = '/fhir/R4'

/** Search controls every search takes: page size and the next link's offset. */
export const pagingQuery = {
  _count: { type: 'integer', minimum: 0, maximum: 1000, description: 'Page size (default 20, at most 1000; 0 answers the total only).' },
  _offset: { type: 'integer', minimum: 0, description: 'Where the page starts, as the `next` link gives it.' },
} as const

export const pagingParams = [
  { name: '_count', type: 'number', documentation: 'Page size: default 20, at most 1000; 0 gives the total only.' },
  { name: '_offset', type: 'number', documentation: 'Where the page starts; the Bundle\'s next link carries it.' },
] as const

declare module 'fastify' {
  interface FastifyInstance {
    /** The node's public URL (config `publicUrl`), set by the FHIR plugin; empty when not configured. */
    fhirPublicUrl?: string
  }
}

/**
 * This node's FHIR base URL, absolute, for fullUrl, links and Location: under the configured
 * public URL when there is one (a node behind a TLS proxy), else as the caller reached it.
 */
export function fhirBase(req: FastifyRequest): string {
  const pub = req.server.fhirPublicUrl
  return pub ? `${pub.replace(/\/+$/, '')}${fhirPrefix}` : `${req.protocol}://${req.host}${fhirPrefix}`
}

export interface SearchsetParams {
  /** The FHIR base URL (fhirBase). */
  base: string
  /** The search's path below the base: `Patient`, `Patient/abc/$everything`. */
  path: string
  /** The search parameters the server used (controls aside), for the self and next links. */
  params: Record<string, string | number | readonly (string | number)[] | undefined>
  /** Every match the caller may see, in order: `total` is their number, the page a slice. */
  matches: readonly FhirResource[]
  count?: number
  offset?: number
  /** When given, `matches` is already the page at `offset` and this is the number of all of them. */
  total?: number
}

/**
 * A searchset Bundle of one page of `matches`, with `total` and `self`/`next` links (next only
 * when more follow). `total` is what the caller may see: callers pass only those.
 */
export function searchsetBundle({ base, path, params, matches, count = 20, offset = 0, total }: SearchsetParams): FhirResource {
  const page = total === undefined ? matches.slice(offset, offset + count) : matches.slice(0, count)
  const all = total ?? matches.length
  const link = [{ relation: 'self', url: searchUrl(base, path, params, count, offset) }]
  if (count > 0 && offset + count < all) link.push({ relation: 'next', url: searchUrl(base, path, params, count, offset + count) })
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: all,
    link,
    entry: page.map((resource) => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
  }
}

function searchUrl(base: string, path: string, params: SearchsetParams['params'], count: number, offset: number): string {
  const q = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) q.append(name, String(v))
  }
  q.set('_count', String(count))
  if (offset > 0) q.set('_offset', String(offset))
  return `${base}/${path}?${q.toString()}`
}
