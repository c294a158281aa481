// Decides how a record is shown, from its first bytes first (what it is), then its media type
// and name (what it says it is). Only raster images and PDF ever become blob: URLs.

export type RecordKind = 'dicom' | 'pdf' | 'image' | 'json' | 'xml' | 'hl7' | 'text' | 'binary'

export interface DetectedKind {
  kind: RecordKind
  /** For images and PDF: the media type the blob is given (never taken from the record). */
  blobType?: string
}

const imageMagic: [string, number[]][] = [
  ['image/png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/gif', [0x47, 0x49, 0x46, 0x38]],
  ['image/bmp', [0x42, 0x4d]],
]

function startsWith(head: Uint8Array, magic: number[], at = 0): boolean {
  return magic.every((b, i) => head[at + i] === b)
}

/** How to show a record, from up to its first 4 KiB, its media type and its file name. */
export function detectKind(head: Uint8Array, mediaType: string, fileName: string): DetectedKind {
  const type = mediaType.toLowerCase().split(';')[0].trim()
  const ext = /\.([a-z0-9]+)$/i.exec(fileName)?.[1]?.toLowerCase() ?? ''
  if (head.length >= 132 && startsWith(head, [0x44, 0x49, 0x43, 0x4d], 128)) return { kind: 'dicom' }
  if (startsWith(head, [0x25, 0x50, 0x44, 0x46, 0x2d])) return { kind: 'pdf', blobType: 'application/pdf' }
  for (const [blobType, magic] of imageMagic) if (startsWith(head, magic)) return { kind: 'image', blobType }
  if (startsWith(head, [0x52, 0x49, 0x46, 0x46]) && startsWith(head, [0x57, 0x45, 0x42, 0x50], 8)) return { kind: 'image', blobType: 'image/webp' }
  if (!looksLikeText(head)) return { kind: 'binary' }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head).replace(/^\uFEFF/, '').trimStart()
  if (type.includes('json') || ext === 'json' || /^[[{]/.test(text)) return { kind: 'json' }
  if (type.includes('xml') || ext === 'xml' || text.startsWith('<?xml') || /^<[A-Za-z]/.test(text)) return { kind: 'xml' }
  if (type.includes('hl7') || ext === 'hl7' || /^MSH\|/.test(text)) return { kind: 'hl7' }
  return { kind: 'text' }
}

/** No NUL bytes and valid UTF-8 (allowing a character cut at the end of the sample). */
function looksLikeText(head: Uint8Array): boolean {
  if (head.includes(0)) return false
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 4)))
    return true
  } catch {
    return false
  }
}
