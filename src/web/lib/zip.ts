// A ZIP archive of files as they are (method 0, "stored"): what the researcher's Export button
// downloads. The de-identified files are small text (NDJSON, XML, HL7) and DICOM, so no
// compression library comes into the portal for them.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** CRC-32 (ISO 3309), as ZIP records it for each file. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

export interface ZipEntry { name: string; bytes: Uint8Array }

/**
 * The ZIP archive of `entries` (stored, UTF-8 names, the MS-DOS time fixed at 1980-01-01 so the
 * same files give the same bytes). Names are the export's own (`Patient.ndjson`, `dicom/….dcm`):
 * relative, no `..`.
 * @throws Error for a name that is absolute or climbs out, or an archive over 4 GiB
 */
export function zipStored(entries: readonly ZipEntry[]): Uint8Array {
  const enc = new TextEncoder()
  const locals: Uint8Array[] = []
  const centrals: Uint8Array[] = []
  let offset = 0
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name.split('/').includes('..')) throw new Error(`unsafe name in an archive: ${e.name}`)
    const name = enc.encode(e.name)
    const crc = crc32(e.bytes)
    const local = new Uint8Array(30 + name.length)
    const lv = new DataView(local.buffer)
    lv.setUint32(0, 0x04034b50, true); lv.setUint16(4, 20, true); lv.setUint16(6, 0x0800, true)
    lv.setUint16(8, 0, true); lv.setUint16(10, 0, true); lv.setUint16(12, 0x21, true)
    lv.setUint32(14, crc, true); lv.setUint32(18, e.bytes.length, true); lv.setUint32(22, e.bytes.length, true)
    lv.setUint16(26, name.length, true); lv.setUint16(28, 0, true)
    local.set(name, 30)
    const central = new Uint8Array(46 + name.length)
    const cv = new DataView(central.buffer)
    cv.setUint32(0, 0x02014b50, true); cv.setUint16(4, 20, true); cv.setUint16(6, 20, true); cv.setUint16(8, 0x0800, true)
    cv.setUint16(10, 0, true); cv.setUint16(12, 0, true); cv.setUint16(14, 0x21, true)
    cv.setUint32(16, crc, true); cv.setUint32(20, e.bytes.length, true); cv.setUint32(24, e.bytes.length, true)
    cv.setUint16(28, name.length, true); cv.setUint32(42, offset, true)
    central.set(name, 46)
    locals.push(local, e.bytes)
    centrals.push(central)
    offset += local.length + e.bytes.length
    if (offset > 0xffffffff) throw new Error('archive over 4 GiB')
  }
  const centralSize = centrals.reduce((n, c) => n + c.length, 0)
  const end = new Uint8Array(22)
  const ev = new DataView(end.buffer)
  ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, entries.length, true); ev.setUint16(10, entries.length, true)
  ev.setUint32(12, centralSize, true); ev.setUint32(16, offset, true)
  const out = new Uint8Array(offset + centralSize + 22)
  let at = 0
  for (const part of [...locals, ...centrals, end]) { out.set(part, at); at += part.length }
  return out
}
