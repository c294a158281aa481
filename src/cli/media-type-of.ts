import { closeSync, openSync, readSync } from 'node:fs'
import { extname } from 'node:path'

const mediaTypes: Record<string, string> = {
  '.dcm': 'application/dicom', '.dicom': 'application/dicom', '.xml': 'application/xml', '.json': 'application/json',
  '.hl7': 'x-application/hl7-v2+er7', '.pdf': 'application/pdf', '.txt': 'text/plain', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
}

/**
 * A file's natural media type, from its extension; a JSON file whose first member is a FHIR
 * `resourceType` is `application/fhir+json`. Unknown files are `application/octet-stream`.
 * @throws Error when a .json file cannot be read.
 */
export function mediaTypeOf(path: string): string {
  const ext = extname(path).toLowerCase()
  if (ext === '.json') {
    const head = Buffer.alloc(4096)
    const fd = openSync(path, 'r')
    let n: number
    try { n = readSync(fd, head, 0, head.length, 0) } finally { closeSync(fd) }
    if (/^\uFEFF?\s*\{\s*"resourceType"\s*:/.test(head.subarray(0, n).toString('utf8'))) return 'application/fhir+json'
  }
  return mediaTypes[ext] ?? 'application/octet-stream'
}
